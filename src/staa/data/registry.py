"""Corpus registry: build any corpus from its name (or a CSV manifest path) and root folder."""

from __future__ import annotations

import inspect
from pathlib import Path

from staa.data.base import Corpus
from staa.data.manifest import ManifestCorpus
from staa.data.synthetic import SyntheticCorpus
from staa.errors import ConfigError
from staa.registry import Registry

CORPORA = Registry(
    "corpus",
    {
        "synthetic": "staa.data.synthetic:SyntheticCorpus",
        "demos": "staa.data.demos:DEMoS",
        "iemocap": "staa.data.iemocap:IEMOCAP",
        "emodb": "staa.data.emodb:EmoDB",
        "ravdess": "staa.data.ravdess:RAVDESS",
        "nemo": "staa.data.nemo:NEMO",
    },
)


def check_corpus_options(name: str, options: dict) -> type[Corpus]:
    """The class of corpus ``name`` after checking that it takes every one of ``options`` (by keyword)."""
    if not isinstance(name, str):
        raise ConfigError(f"a corpus is named by a string, got {name!r}")
    if not name.endswith(".csv") and name not in CORPORA:
        raise ConfigError(f"unknown corpus '{name}' (available: {', '.join(CORPORA.names())}, or a .csv manifest)")
    cls = ManifestCorpus if name.endswith(".csv") else CORPORA.get(name)
    params = list(inspect.signature(cls.__init__).parameters)[2 if cls is not SyntheticCorpus else 1 :]
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ConfigError(f"corpus '{name}': unknown options {unknown} (known: {', '.join(params)})")
    return cls


def build_corpus(name: str, root: str | Path | None = None, **options) -> Corpus:
    """``synthetic`` needs no root; named corpora need their root folder; ``*.csv`` is a manifest.

    ``options`` are the corpus class's keyword arguments (e.g. ``seconds``, ``seed``); an unknown one is
    refused by name instead of failing inside the constructor.
    """
    cls = check_corpus_options(name, options)
    if cls is ManifestCorpus:
        return ManifestCorpus(name, **options)
    if cls is SyntheticCorpus:
        return cls(**options)
    if root is None:
        raise ConfigError(f"corpus '{name}' needs --root (the folder holding the corpus)")
    return cls(root, **options)
