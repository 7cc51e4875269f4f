"""The zero-perturbation control: x_adv ≡ x, and the authors' shift when given a generator."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from staa.attacks.registry import build_attack
from staa.attacks.staa import Generator, GeneratorConfig
from staa.attacks.zero import ZeroPerturbation
from staa.models.base import SERConfig, SERModel


class FirstSample(SERModel):
    def __init__(self) -> None:
        super().__init__(SERConfig(num_classes=2))
        self.w = nn.Parameter(torch.tensor(10.0))

    def forward(self, waveform: Tensor) -> Tensor:
        return torch.stack([-self.w * waveform[:, 0], self.w * waveform[:, 0]], 1)


def _clips() -> Tensor:
    return 0.5 * torch.sin(torch.linspace(0, 40, 4096))[None].repeat(3, 1) * torch.tensor([[1.0], [-0.5], [0.2]])


def test_zero_perturbation_returns_the_clean_clip():
    x = _clips()
    result = build_attack("zero", FirstSample())(x)
    assert torch.equal(result.x_adv, x) and not result.delta.any()
    assert not result.success.any()
    assert torch.isposinf(result.snr_db).all() and (result.sparsity == 0).all()


def test_exact_generator_at_zero_budget_is_the_identity():
    torch.manual_seed(0)
    generator = Generator(GeneratorConfig.fast(alignment="exact"))
    x = _clips()
    assert torch.equal(ZeroPerturbation(FirstSample(), generator=generator)(x).x_adv, x)


def test_authors_alignment_at_zero_budget_is_the_shifted_clip():
    torch.manual_seed(0)
    generator = Generator(GeneratorConfig.fast(alignment="authors"))
    x = _clips()
    left = generator.plan(x.shape[1]).left
    x_adv = ZeroPerturbation(FirstSample(), generator=generator)(x).x_adv
    # the head of the reflection-padded clip: x delayed by the left padding, the gap filled by its mirror image
    assert left > 0
    assert torch.allclose(x_adv[:, left:], x[:, : x.shape[1] - left])
    assert torch.allclose(x_adv[:, :left], x[:, 1 : left + 1].flip(1))
    assert not torch.equal(x_adv, x)
