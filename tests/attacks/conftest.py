"""Models for the attack tests, served as fixtures: a hand-built one with a known answer, a tiny CNN.

``SpikeModel`` decides from one standardised sample z_p alone (class 1 above +c, class 2 below −c,
class 0 in between), so the sample an attack must change, its direction and its size are known.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from staa.data.cache import PreparedCorpus
from staa.models.base import SERConfig, SERModel


class SpikeModel(SERModel):
    def __init__(self, position: int, threshold: float = 0.25) -> None:
        super().__init__(SERConfig(num_classes=3))
        self.position = position
        self.threshold = threshold
        self.gain = nn.Parameter(torch.tensor(40.0))

    def classify(self, z: Tensor) -> Tensor:
        zp = z[:, self.position]
        c = self.threshold
        return torch.stack([torch.zeros_like(zp), self.gain * (zp - c), self.gain * (-c - zp)], 1)


class CountingModel(nn.Module):
    """The attacked model, counting the clips it scores: shows when an attack stops querying."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.clips = 0

    def forward(self, x: Tensor) -> Tensor:
        self.clips += len(x)
        return self.model(x)


class TinySER(SERModel):
    """Two strided convolutions, a mean over time and a linear layer: an SER model in miniature."""

    def __init__(self, num_classes: int = 7) -> None:
        super().__init__(SERConfig(num_classes=num_classes))
        self.features = nn.Sequential(
            nn.Conv1d(1, 16, 32, stride=8), nn.LeakyReLU(0.1), nn.Conv1d(16, 16, 8, stride=4), nn.LeakyReLU(0.1)
        )
        self.out = nn.Linear(16, num_classes)

    def classify(self, z: Tensor) -> Tensor:
        return self.out(self.features(z.unsqueeze(1)).mean(-1))


@pytest.fixture
def spike() -> Callable[[int, int, int], tuple[SpikeModel, Tensor]]:
    """``spike(batch, length, position)`` → (model, clips of class 0 whose fate hangs on one sample).

    The clips are noise of std 0.1 with sample ``position`` just above the row mean (z_p ≈ 0.02):
    class 1 needs Δx_p ≈ +0.023 and class 2 Δx_p ≈ −0.027, both inside ε = 0.05, and class 1 is the
    nearer boundary (an exact tie z_p = 0 would cancel the margin gradient).
    """

    def make(batch: int, length: int, position: int) -> tuple[SpikeModel, Tensor]:
        x = 0.1 * torch.randn(batch, length, generator=torch.Generator().manual_seed(0))
        x[:, position] = (x.sum(1) - x[:, position]) / (length - 1) + 0.002
        return SpikeModel(position), x

    return make


@pytest.fixture
def counting() -> type[CountingModel]:
    return CountingModel


@pytest.fixture
def mixed_spike() -> Callable[[int, int, int], tuple[SpikeModel, Tensor, Tensor]]:
    """``mixed_spike(batch, length, position)`` → (model, clips, reachable): within ε = 0.005 only the
    even rows can leave class 0.

    Even rows sit just below the class-1 boundary (z_p ≈ 0.24, Δx_p ≈ +0.001 flips them); odd rows
    sit in the middle of class 0 (z_p ≈ 0), where even every sample moved by 0.005 shifts z_p by at
    most ≈ 0.1, far from the ±0.25 boundaries.
    """

    def make(batch: int, length: int, position: int) -> tuple[SpikeModel, Tensor, Tensor]:
        x = 0.1 * torch.randn(batch, length, generator=torch.Generator().manual_seed(0))
        rest = torch.cat([x[:, :position], x[:, position + 1 :]], dim=1)
        reachable = torch.arange(batch) % 2 == 0
        x[:, position] = rest.mean(1) + torch.where(reachable, 0.24 * rest.std(1), torch.zeros(batch))
        return SpikeModel(position), x, reachable

    return make


@pytest.fixture
def random_model() -> TinySER:
    torch.manual_seed(0)
    return TinySER(num_classes=4).eval()


@pytest.fixture
def random_inputs() -> Tensor:
    """Four clips of 2 000 samples, some near the amplitude bounds so that clipping is exercised."""
    g = torch.Generator().manual_seed(1)
    return (0.6 * torch.randn(4, 2000, generator=g)).clamp(-1, 1)


@pytest.fixture(scope="session")
def trained_tiny(tiny_corpus: PreparedCorpus) -> tuple[TinySER, Tensor]:
    """TinySER fitted to the tiny synthetic corpus's train split (full-batch Adam), and all 70 clips."""
    torch.manual_seed(0)
    model = TinySER(num_classes=len(tiny_corpus.classes))
    splits = [tiny_corpus.split(s) for s in ("train", "val", "test")]
    x_train, y_train = torch.from_numpy(np.array(splits[0].waves)), torch.from_numpy(splits[0].labels).long()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(40):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x_train), y_train).backward()
        optimiser.step()
    return model.eval(), torch.from_numpy(np.concatenate([np.array(s.waves) for s in splits]))
