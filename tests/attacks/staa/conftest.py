"""Fixtures of the STAA-Net tests: a micro corpus (7 clips of 0.25 s per split) and a threat model."""

from __future__ import annotations

import pytest
import torch

from staa.data.cache import PreparedCorpus, prepare
from staa.data.synthetic import SyntheticCorpus
from staa.models import build_model
from staa.models.base import SERModel


@pytest.fixture(scope="session")
def micro_corpus(tmp_path_factory: pytest.TempPathFactory) -> PreparedCorpus:
    """3 speakers × 7 emotions × 1 clip of 0.25 s: one speaker, 7 clips, per split."""
    corpus = SyntheticCorpus(n_speakers=3, per_emotion=1, seconds=0.25, seed=1)
    return prepare(corpus, tmp_path_factory.mktemp("micro"), show_progress=False)


@pytest.fixture()
def threat() -> SERModel:
    """A small untrained Emo18: its predictions depend on the input, which is all the mechanics need."""
    torch.manual_seed(0)
    return build_model("emo18", num_classes=7, hidden=8).eval()
