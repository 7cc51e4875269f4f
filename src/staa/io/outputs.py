"""Output folders: written atomically, claimed for the settings that made them, checked before any work.

* :func:`atomic_path` / :func:`write_json` / :func:`write_text`: a killed run never leaves a half-written
  checkpoint, result or WAV, and every file gets the permissions the umask allows (not the 0600 of a
  temporary file).
* :func:`writable_folder`: an output place that cannot be written (an existing file, a path below a
  file, a read-only folder) is refused in one line before any work.
* :func:`claim_folder`: a folder's ``spec.json`` records the settings behind its outputs, so a resumed or
  repeated run with other settings is refused (naming what changed) instead of mixing results, or, with
  ``overwrite``, starts over.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from staa.errors import ConfigError

TMP_MARK = ".tmp"
SPEC_FILE = "spec.json"
RESTART_HINT = "rerun with --overwrite to start over, or use another --out"


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` only on success.

    The temporary name is ``.<name>.<random>.tmp<suffix>``: hidden, recognisable by
    :func:`remove_partial_outputs`, and keeping the suffix so that writers keyed on it (numpy, soundfile)
    still pick the right format.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_MARK + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp made it 0600; the file is shared as the umask says
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def remove_partial_outputs(directory: str | Path) -> list[Path]:
    """Delete temporaries that a killed run (SIGKILL, power loss) left behind in ``directory``'s tree.

    ``atomic_path`` removes its temporary on any Python exception, but not when the process dies; a
    resumed run calls this first so that only complete outputs remain. Returns the removed paths.
    """
    removed = []
    for p in Path(directory).rglob(".*"):
        if p.is_file() and TMP_MARK in p.name[1:] and p.name.startswith("."):
            p.unlink()
            removed.append(p)
    return removed


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and paths so that results serialise without surprises."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _umask() -> int:
    """The process's umask (read by setting it, then restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def writable_folder(path: str | Path) -> Path:
    """``path`` if a folder can be made or written there; one-line :class:`ConfigError` otherwise.

    Nothing is created: the check runs before any work, so a refused run leaves nothing behind.
    """
    path = Path(path)
    try:
        existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    except OSError as exc:  # a folder on the way that this user may not enter
        raise ConfigError(f"cannot be reached ({exc.strerror})", path) from None
    if existing == path and not path.is_dir():
        raise ConfigError("exists and is not a folder (give a folder for the outputs)", path)
    if not existing.is_dir():
        raise ConfigError(f"cannot make a folder below {existing}, which is a file", path)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write in {existing} (permission denied or a read-only file system)", path)
    return path


def claim_folder(
    directory: str | Path,
    spec: dict[str, Any],
    *,
    outputs: Sequence[str] = (),
    overwrite: bool = False,
    write: bool = True,
) -> None:
    """Record the settings behind a folder's outputs (``spec.json``); refuse to add to outputs of others.

    ``outputs`` are the names (relative to ``directory``) that the claiming step writes. Another
    ``spec.json`` is refused, naming what changed, while any of them exists (a claim with none of its
    outputs written, left by a killed run, is simply replaced); without ``spec.json`` they are outputs of
    unknown settings and are refused too. ``overwrite`` deletes them (and only them) and claims the folder
    anew. ``write = False`` checks without writing (the other ranks under torchrun).
    """
    directory = Path(directory)
    spec = json.loads(json.dumps(spec, default=str))
    path = directory / SPEC_FILE
    old = _read_spec(path)
    found = [name for name in outputs if (directory / name).exists()]
    if overwrite:
        for name in (*outputs, SPEC_FILE):
            _remove(directory / name)
    elif old is not None and old != spec and (found or not outputs):
        raise ConfigError(f"outputs here were made with other settings ({describe_changes(old, spec)}); {RESTART_HINT}",
                          directory)  # fmt: skip
    elif old is None and found:
        raise ConfigError(f"holds outputs ({', '.join(found[:3])}) made with unrecorded settings; {RESTART_HINT}", directory)
    if (overwrite or old != spec) and write:
        write_json(path, spec)


@contextlib.contextmanager
def claimed(directory: str | Path, spec: dict[str, Any], *, outputs: Sequence[str], overwrite: bool = False,
            write: bool = True) -> Iterator[Path]:  # fmt: skip
    """:func:`claim_folder` around a step: a step that fails before writing any of its ``outputs`` takes
    its claim back (and the folder, if the step made it), so a refused run leaves nothing behind."""
    directory = Path(directory)
    made = [p for p in (directory, *directory.parents) if not p.exists()]
    claim_folder(directory, spec, outputs=outputs, overwrite=overwrite, write=write)
    try:
        yield directory
    except BaseException:
        if write and not any((directory / name).exists() for name in outputs):
            (directory / SPEC_FILE).unlink(missing_ok=True)
            if made:
                remove_empty_folders(made[-1])
        raise


def remove_empty_folders(directory: Path) -> None:
    """Remove ``directory`` and the folders below it that hold no file (deepest first)."""
    for p in sorted((q for q in directory.rglob("*") if q.is_dir()), key=lambda q: len(q.parts), reverse=True):
        if not any(p.iterdir()):
            p.rmdir()
    if directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()


def describe_changes(old: dict[str, Any], new: dict[str, Any], limit: int = 4) -> str:
    """The settings that differ, as dotted keys with their old and new values when these are short."""
    before, after = _flatten(old), _flatten(new)
    changed = sorted(k for k in set(before) | set(after) if before.get(k, _MISSING) != after.get(k, _MISSING))
    parts = []
    for key in changed[:limit]:
        a, b = (json.dumps(d[key]) if key in d else "unset" for d in (before, after))
        parts.append(f"{key}: {a} → {b}" if len(a) + len(b) <= 80 else key)
    return ", ".join(parts) + (f" and {len(changed) - limit} more" if len(changed) > limit else "")


_MISSING = object()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _read_spec(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        spec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(f"{SPEC_FILE} is damaged; {RESTART_HINT}", path) from None
    return spec if isinstance(spec, dict) else {"": spec}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
