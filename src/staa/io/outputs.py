"""Output folders: written atomically, claimed for the settings that made them, checked before any work.

* :func:`atomic_path` / :func:`write_json` / :func:`write_text`: a killed run never leaves a half-written
  checkpoint, result or WAV, and every file gets the permissions the umask allows (not the 0600 of a
  temporary file).
* :func:`writable_folder`: an output place that cannot be written (an existing file, a path below a
  file, a read-only folder) is refused in one line before any work.
* :func:`claim_folder`: a folder's ``spec.json`` records the settings behind its outputs, so a resumed or
  repeated run with other settings is refused (naming what changed) instead of mixing results, or, with
  ``overwrite``, starts over. Every file written (atomically) below a claimed folder is listed in its
  ``written.txt``; ``overwrite`` deletes those files only, and a folder whose outputs hold a file staa did
  not write is refused rather than emptied.
* :func:`inputs_apart`: an output folder that holds, is, or lies inside an input is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from staa.errors import ConfigError
from staa.io.lock import folder_lock

TMP_MARK = ".tmp"
SPEC_FILE = "spec.json"
WRITTEN_FILE = "written.txt"  # the files staa wrote below a claimed folder, one relative path a line
RESTART_HINT = "rerun with --overwrite to start over, or use another --out"
FOREIGN_HINT = "--overwrite deletes only the files staa recorded writing: move them away or use another --out"
_claims: set[Path] = set()  # folders claimed by this process: writes below them are recorded


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
        _record_written(path)
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
    unknown settings and are refused too. ``overwrite`` deletes the files staa wrote among them (listed
    in ``written.txt``) and claims the folder anew; a file it did not write there is refused, never
    deleted. ``write = False`` checks without writing (the other ranks under torchrun).
    """
    directory = Path(directory)
    old, spec = check_claim(directory, spec, outputs=outputs, overwrite=overwrite)
    if overwrite:
        _remove_written(directory, outputs)
    if write:
        _claims.add(directory.resolve())
    if (overwrite or old != spec) and write:
        write_json(directory / SPEC_FILE, spec)


def check_claim(directory: Path, spec: dict[str, Any], *, outputs: Sequence[str], overwrite: bool
                ) -> tuple[dict[str, Any] | None, dict[str, Any]]:  # fmt: skip
    """:func:`claim_folder`'s refusals, touching nothing: (the recorded spec or None, ``spec`` as JSON keeps it)."""
    spec = json.loads(json.dumps(spec, default=str))
    old = _read_spec(directory / SPEC_FILE)
    found = [name for name in outputs if (directory / name).exists()]
    foreign = _foreign_files(directory, found)
    hint = FOREIGN_HINT if foreign else RESTART_HINT  # never offer --overwrite where it could not start over
    if overwrite and foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise ConfigError(f"holds files staa has no record of writing ({shown}); {FOREIGN_HINT}", directory)
    if not overwrite and old is not None and old != spec and (found or not outputs):
        raise ConfigError(
            f"outputs here were made with other settings ({describe_changes(old, spec)}); {hint}", directory
        )
    if not overwrite and old is None and found:
        raise ConfigError(f"holds outputs ({', '.join(found[:3])}) made with unrecorded settings; {hint}", directory)
    return old, spec


@contextlib.contextmanager
def claimed(directory: str | Path, spec: dict[str, Any], *, outputs: Sequence[str], overwrite: bool = False,
            write: bool = True) -> Iterator[Path]:  # fmt: skip
    """:func:`claim_folder` around a step, holding the folder's lock (:func:`staa.io.lock.folder_lock`): one
    run at a time writes there. A step that fails before writing any of its ``outputs`` takes its claim
    back (and the folder, if the step made it), so a refused run leaves nothing behind."""
    directory = Path(directory)
    made = [p for p in (directory, *directory.parents) if not p.exists()]
    check_claim(directory, spec, outputs=outputs, overwrite=overwrite)  # a refused run does not even lock
    try:
        with folder_lock(directory, enabled=write):
            claim_folder(directory, spec, outputs=outputs, overwrite=overwrite, write=write)
            try:
                yield directory
            except BaseException:
                if write and not any((directory / name).exists() for name in outputs):
                    (directory / SPEC_FILE).unlink(missing_ok=True)
                    (directory / WRITTEN_FILE).unlink(missing_ok=True)
                raise
    except BaseException:
        if write and made and not any((directory / name).exists() for name in outputs):
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


def _record_written(path: Path) -> None:
    """Add ``path`` to the ``written.txt`` of the deepest folder this process claimed above it."""
    if not _claims or path.name in (WRITTEN_FILE, SPEC_FILE):
        return
    full = path.parent.resolve() / path.name
    owner = next((p for p in full.parents if p in _claims), None)
    if owner is not None and owner.is_dir():
        with open(owner / WRITTEN_FILE, "a", encoding="utf-8") as f:
            f.write(full.relative_to(owner).as_posix() + "\n")


def written_files(directory: Path) -> set[str]:
    """The files (relative paths) that staa recorded writing below the claimed ``directory``."""
    try:
        return set((directory / WRITTEN_FILE).read_text(encoding="utf-8").splitlines())
    except (FileNotFoundError, UnicodeDecodeError):
        return set()


def _files_below(directory: Path, names: Sequence[str]) -> list[str]:
    """Every file (relative path, links included) that the outputs ``names`` of ``directory`` hold."""
    files = []
    for name in names:
        p = directory / name
        if p.is_dir() and not p.is_symlink():
            files += sorted(
                q.relative_to(directory).as_posix() for q in p.rglob("*") if not q.is_dir() or q.is_symlink()
            )
        elif p.exists() or p.is_symlink():
            files.append(Path(name).as_posix())
    return files


def _foreign_files(directory: Path, found: Sequence[str]) -> list[str]:
    """Files among the outputs that staa did not record writing (the user's, or of a folder without a record)."""
    written = written_files(directory)
    return [f for f in _files_below(directory, found) if f not in written and not _partial(f)]


def _partial(name: str) -> bool:
    """A temporary that a killed atomic write left (removed by :func:`remove_partial_outputs`)."""
    base = name.rsplit("/", 1)[-1]
    return base.startswith(".") and TMP_MARK in base[1:]


def _remove_written(directory: Path, outputs: Sequence[str]) -> None:
    """Delete the files staa wrote among ``outputs`` (and the folders they leave empty), then the claim."""
    for name in _files_below(
        directory, [n for n in outputs if (directory / n).exists() or (directory / n).is_symlink()]
    ):
        (directory / name).unlink()
    for name in outputs:
        if (directory / name).is_dir() and not (directory / name).is_symlink():
            remove_empty_folders(directory / name)
    for name in (SPEC_FILE, WRITTEN_FILE):
        (directory / name).unlink(missing_ok=True)


def inputs_apart(out: str | Path, inputs: Sequence[str | Path | None]) -> None:
    """Refuse an output folder that is an input, holds one, or lies inside one (one line naming both).

    Outputs written into the inputs' place could replace them, and a later ``--overwrite`` would have
    them among its outputs; the check runs before any work.
    """
    target = Path(out).resolve()
    for given in inputs:
        if given is None or not Path(given).exists():
            continue
        source = Path(given).resolve()
        if source == target or target in source.parents:
            raise ConfigError(f"holds the input {given}: give an output folder apart from the inputs", out)
        if source in target.parents and source.is_dir():
            raise ConfigError(f"lies inside the input folder {given}: give an output folder apart from the inputs", out)
