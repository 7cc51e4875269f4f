"""Fixtures of the STAA-Net tests: a threat model, and a trained one with its held-out clips (the micro corpus
is in tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from staa.attacks.base import margin_loss
from staa.attacks.staa.controls import MaskControl
from staa.data.cache import PreparedCorpus, prepare
from staa.data.synthetic import SyntheticCorpus
from staa.models import build_model
from staa.models.base import SERModel
from staa.training.ser import TrainConfig, train_ser


@pytest.fixture()
def threat() -> SERModel:
    """A small untrained Emo18: its predictions depend on the input, which is all the mechanics need."""
    torch.manual_seed(0)
    return build_model("emo18", num_classes=7, hidden=8).eval()


@dataclass
class Trained:
    """An Emo18 trained on a synthetic corpus, its test clips and its predictions on them."""

    corpus: PreparedCorpus
    threat: SERModel
    x: Tensor
    labels: Tensor

    def margin(self, generator: torch.nn.Module, control: bool = False) -> float:
        """Mean C&W margin (κ 100) after the generator's δ, or its magnitudes on random positions (``control``):
        margins rather than ASR, since 21 test clips move an ASR by ±20 points."""
        generator.eval()
        with torch.no_grad():
            if control:
                delta = MaskControl(self.threat, generator, "random")(self.x, self.labels).delta
            else:
                delta = generator(self.x).delta
            return float(margin_loss(self.threat(self.x + delta), self.labels, kappa=100.0).mean())


@pytest.fixture()
def trained_threat(tmp_path: Path) -> Trained:
    """Emo18 trained 10 epochs on 5 synthetic speakers (slow tests only: about a minute)."""
    corpus = prepare(
        SyntheticCorpus(n_speakers=5, per_emotion=3, seconds=1.0, seed=0), tmp_path / "cache", show_progress=False
    )
    torch.manual_seed(0)
    model = build_model("emo18", num_classes=7, hidden=32)
    train_ser(model, corpus, tmp_path / "emo18", TrainConfig(epochs=10, lr=3e-3, batch_size=8), show_progress=False)
    model.eval()
    x = torch.from_numpy(np.array(corpus.split("test").waves))
    with torch.no_grad():
        labels = model(x).argmax(-1)
    return Trained(corpus, model, x, labels)
