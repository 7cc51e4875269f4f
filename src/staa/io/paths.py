"""Paths taken from experiment files and manifests, checked before anything is written there.

A configuration is data, not code: ``out: ../../etc`` or an absolute path in a YAML file must not let
a run write outside the folder the user pointed it at.
"""

from __future__ import annotations

from pathlib import Path

from staa.errors import ConfigError


def resolve_inside(base: str | Path, path: str | Path, *, what: str = "path") -> Path:
    """``path`` resolved against ``base`` (symlinks followed); :class:`ConfigError` if it leaves ``base``.

    Relative paths are joined to ``base``; absolute ones are accepted only when they already lie inside
    it. ``what`` names the offending setting in the one-line error (e.g. ``"output 'tables'"``).
    """
    try:
        root = Path(base).expanduser().resolve()
        target = (root / Path(path).expanduser()).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # embedded NUL, symlink loop, unknown ~user
        raise ConfigError(f"{what} '{path}' cannot be resolved ({exc})") from None
    if target != root and root not in target.parents:
        raise ConfigError(f"{what} '{path}' resolves to {target}, outside the output folder {root}")
    return target
