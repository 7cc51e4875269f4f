"""Atomic output writing: a killed run never leaves a half-written checkpoint, result or WAV."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

TMP_MARK = ".tmp"


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
