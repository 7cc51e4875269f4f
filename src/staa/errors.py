"""Exceptions whose message is one line naming the offending file and the problem.

Every user-facing failure (bad audio, bad manifest, wrong checkpoint, bad option) raises a subclass of
:class:`StaaError`; the CLI prints ``error: <message>`` and exits with status 2 instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class StaaError(Exception):
    """Base class: a problem with the user's input, reported in one line."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        text = f"{self.path}: {message}" if self.path else message
        super().__init__(" ".join(text.split()))  # one line, whatever the caller passed


class AudioError(StaaError):
    """Audio that cannot be used: unreadable, empty, non-finite, silent, wrong rate or channels."""


class DataError(StaaError):
    """A corpus, manifest or label problem: missing files, unknown labels, empty splits."""


class CheckpointError(StaaError):
    """A checkpoint that is missing, unsafe (pickle) or belongs to another model."""


class ConfigError(StaaError):
    """An option or experiment file with an invalid value."""


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first non-blank line of an exception's message (or its type name), for one-line reports."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:limit]
