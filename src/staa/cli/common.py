"""What the command groups share: the default cache folder, corpus preparation and printing helpers.

Like every CLI module it imports the library inside functions, so that ``staa --help`` loads no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT_CACHE = Path("runs/cache")


def prepared_corpus(corpus: str, root: Path | None, cache: Path, seconds: float | None, quiet: bool = False) -> Any:
    """Build the named corpus and return its prepared (cached) arrays, preparing them if needed."""
    from staa.data.cache import prepare
    from staa.data.registry import build_corpus

    return prepare(build_corpus(corpus, root), cache, seconds=seconds, show_progress=not quiet)


def prepared_corpus_for_ranks(
    device: str, corpus: str, root: Path | None, cache: Path, seconds: float | None, quiet: bool = False
) -> Any:
    """:func:`prepared_corpus` under torchrun: join the process group, rank 0 prepares, the others reuse."""
    from staa import distributed as ddp

    ddp.setup(device)
    with ddp.main_first():
        return prepared_corpus(corpus, root, cache, seconds, quiet or not ddp.is_main())


def is_main_rank() -> bool:
    """Whether this process prints (rank 0 under torchrun, always otherwise)."""
    from staa import distributed as ddp

    return ddp.is_main()


def fmt(value: float | None, spec: str = ".2f") -> str:
    """A number for a one-line report, ``n/a`` when there is none."""
    return "n/a" if value is None else format(value, spec)
