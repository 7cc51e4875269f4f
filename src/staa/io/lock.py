"""One run per output folder: a lock held while a run writes there, naming its holder to any other.

:func:`folder_lock` takes an exclusive ``flock`` on ``<folder>/.staa.lock`` and writes the holder's pid,
host and start time into it. A second run into the same folder is refused in one line naming that holder
instead of repeating the work and tripping over the first run's files. The operating system drops the
lock of a process that dies, however it dies, so a stale lock file is simply taken over. The same
process may nest locks on one folder (a step claimed inside a command that claimed it already).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from staa.errors import ConfigError

LOCK_FILE = ".staa.lock"
_held: dict[Path, int] = {}  # folder → nesting depth, for the folders this process holds


@contextlib.contextmanager
def folder_lock(directory: str | Path, enabled: bool = True) -> Iterator[None]:
    """Hold ``directory``'s lock (making the folder) for the block; one-line refusal if another run holds it."""
    key = Path(directory).resolve()
    if not enabled:
        yield
        return
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    fd = _acquire(Path(directory))
    _held[key] = 1
    try:
        yield
    finally:
        del _held[key]
        if fd is not None:
            with contextlib.suppress(OSError):
                (Path(directory) / LOCK_FILE).unlink()  # still ours: we hold the lock while removing it
            os.close(fd)


def _acquire(directory: Path) -> int | None:
    """The open, locked lock file's descriptor (None where the file system has no locks)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"another staa run is writing here ({_holder(path)}); wait for it to end or use another --out",
                              directory) from None  # fmt: skip
        except OSError:  # no locks on this file system: run unguarded rather than not at all
            os.close(fd)
            return None
        if _same_file(fd, path):  # not a file its last holder removed while we waited to lock it
            break
        os.close(fd)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}).encode())
    return fd


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _holder(path: Path) -> str:
    """``pid N on HOST since TIME`` from the lock file (as far as it can be read)."""
    try:
        info = json.loads(path.read_text())
        return f"pid {info['pid']} on {info['host']}, since {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
