"""Options and corpus construction shared by the command groups."""

from __future__ import annotations

from pathlib import Path

from staa.data.cache import PreparedCorpus, prepare
from staa.data.registry import build_corpus

DEFAULT_CACHE = Path("runs/cache")


def prepared_corpus(
    corpus: str, root: Path | None, cache: Path, seconds: float | None, quiet: bool = False
) -> PreparedCorpus:
    """Build the named corpus and return its prepared (cached) arrays, preparing them if needed."""
    return prepare(build_corpus(corpus, root), cache, seconds=seconds, show_progress=not quiet)
