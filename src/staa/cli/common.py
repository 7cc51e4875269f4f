"""Options and corpus construction shared by the command groups."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from staa.attacks.registry import attack_class
from staa.data.cache import PreparedCorpus, Split, prepare
from staa.data.registry import build_corpus
from staa.errors import ConfigError

DEFAULT_CACHE = Path("runs/cache")


def prepared_corpus(
    corpus: str, root: Path | None, cache: Path, seconds: float | None, quiet: bool = False
) -> PreparedCorpus:
    """Build the named corpus and return its prepared (cached) arrays, preparing them if needed."""
    return prepare(build_corpus(corpus, root), cache, seconds=seconds, show_progress=not quiet)


def first_clips(pc: PreparedCorpus, split: str, limit: int | None) -> tuple[Split, int]:
    """A split and how many of its clips a command works on (all, or the first ``limit``); never none."""
    data = pc.split(split)
    n = len(data) if limit is None else min(limit, len(data))
    if n == 0:
        raise ConfigError(f"split '{split}' of {pc.name} is empty")
    return data, n


def attack_options(name: str, **given: Any) -> dict[str, Any]:
    """The options given (not None), each checked: an option the attack does not take is an error, not a no-op.

    STAA-Net needs a trained generator and has its own command.
    """
    if name == "staa":
        raise ConfigError("STAA-Net attacks with a trained generator: use `staa generator apply`")
    options = {k: v for k, v in given.items() if v is not None}
    accepted = inspect.signature(attack_class(name).__init__).parameters
    for option in options:
        if option not in accepted:
            raise ConfigError(f"attack '{name}' has no option '{option}'")
    return options
