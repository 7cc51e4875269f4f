"""Corpus registry: build any corpus from its name (or a CSV manifest path) and root folder."""

from __future__ import annotations

from pathlib import Path

from staa.data.base import Corpus
from staa.data.demos import DEMoS
from staa.data.emodb import EmoDB
from staa.data.iemocap import IEMOCAP
from staa.data.manifest import ManifestCorpus
from staa.data.ravdess import RAVDESS
from staa.data.synthetic import SyntheticCorpus
from staa.errors import ConfigError

CORPORA: dict[str, type[Corpus]] = {
    "synthetic": SyntheticCorpus,
    "demos": DEMoS,
    "iemocap": IEMOCAP,
    "emodb": EmoDB,
    "ravdess": RAVDESS,
}


def build_corpus(name: str, root: str | Path | None = None, **options) -> Corpus:
    """``synthetic`` needs no root; named corpora need their root folder; ``*.csv`` is a manifest."""
    if name.endswith(".csv"):
        return ManifestCorpus(name, **options)
    if name not in CORPORA:
        raise ConfigError(f"unknown corpus '{name}' (available: {', '.join(sorted(CORPORA))}, or a .csv manifest)")
    cls = CORPORA[name]
    if name == "synthetic":
        return cls(**options)
    if root is None:
        raise ConfigError(f"corpus '{name}' needs --root (the folder holding the corpus)")
    return cls(root, **options)
