"""``staa data``: prepare a corpus into the on-disk cache."""

from __future__ import annotations

from pathlib import Path

import typer

from staa.cli.common import CACHE_HELP, DEFAULT_CACHE, ROOT_HELP, SECONDS_HELP, prepared_corpus

app = typer.Typer(no_args_is_help=True)


@app.command()
def prepare(
    corpus: str = typer.Argument(..., help="synthetic, emodb, ravdess, nemo, demos, iemocap, or a CSV manifest path"),
    root: Path = typer.Option(None, help=ROOT_HELP),
    cache: Path = typer.Option(DEFAULT_CACHE, help=CACHE_HELP),
    seconds: float = typer.Option(None, help=SECONDS_HELP),
) -> None:
    """Decode, resample to 16 kHz, unify length and cache a corpus as memory-mapped arrays."""
    pc = prepared_corpus(corpus, root, cache, seconds)
    typer.echo(f"prepared {pc.name}: {pc.length} samples/clip, classes {', '.join(pc.classes)} -> {pc.path}")
