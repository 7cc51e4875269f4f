"""FMN-L0 and σ-zero: FMN finds the minimum number of samples a hand-built model needs (3, where 2 cannot
suffice) and σ-zero prunes every sample the decision does not depend on; both never leave the ε-box, report per-clip L0 through ``AttackResult.l0``, and return a clip they
cannot fool unchanged."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from staa.attacks.fmn import FMNL0
from staa.attacks.sigma_zero import SigmaZero
from staa.errors import ConfigError
from staa.models.base import SERConfig, SERModel

EPS = 0.05
ATTACKS = {"fmn": FMNL0, "sigma_zero": SigmaZero}
BLOCK = [3, 9, 14, 20, 27, 33, 41, 50]
WEIGHTS = [1.6, 1.4, 1.2, 1.0, 0.8, 0.6, 0.4, 0.2]


class VoteModel(SERModel):
    """Class 1 when the weighted standardised samples of ``BLOCK`` sum above 1.8, class 0 otherwise.

    On clips of std 0.1 whose block samples sit at the clip mean, a sample moved by ε adds ≈ 0.5 times
    its weight: the two heaviest reach 1.5, the three heaviest 2.1, so the minimum is exactly 3 samples
    (and the weights differ, so which three is decided too).
    """

    def __init__(self) -> None:
        super().__init__(SERConfig(num_classes=2))
        self.scale = nn.Parameter(torch.tensor(10.0))

    def classify(self, z: Tensor) -> Tensor:
        score = z[:, BLOCK] @ torch.tensor(WEIGHTS) - 1.8
        return torch.stack([torch.zeros_like(score), self.scale * score], 1)


def vote_clips(batch: int, n: int = 512) -> Tensor:
    x = 0.1 * torch.randn(batch, n, generator=torch.Generator().manual_seed(0))
    x = (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True) * 0.1
    x[:, BLOCK] = 0.0
    return x - x.mean(1, keepdim=True)


def test_fmn_finds_the_minimum_number_of_samples():
    result = FMNL0(VoteModel(), EPS, steps=100)(vote_clips(4))
    assert result.success.all()
    assert (result.l0 == 3).all()
    assert set(torch.nonzero(result.delta)[:, 1].tolist()) == set(BLOCK[:3])


def test_sigma_zero_prunes_everything_outside_the_block():
    """Adam normalises each sample's gradient by its own history, and the block's gradients differ only
    by constant weights here, so its samples move in lockstep and the threshold keeps or drops them all
    together: σ-zero answers the whole block (8) on this model, never a sample outside it."""
    x = vote_clips(4)
    result = SigmaZero(VoteModel(), EPS, steps=100)(x)
    assert result.success.all()
    assert set(torch.nonzero(result.delta)[:, 1].tolist()) == set(BLOCK)


@pytest.mark.parametrize("name", ATTACKS)
@pytest.mark.parametrize("targeted", [False, True])
def test_eps_and_range_hold_and_failures_are_returned_unchanged(random_model, random_inputs, name, targeted):
    result = ATTACKS[name](random_model, EPS, steps=5, targeted=targeted)(random_inputs, target=2 if targeted else None)
    assert result.delta.abs().max() <= EPS + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1
    assert (result.l0[~result.success] == 0).all()
    torch.testing.assert_close(result.sparsity, 100.0 * result.l0.double() / random_inputs.shape[1])


@pytest.mark.parametrize(
    ("name", "options"),
    [("fmn", {"steps": 0}), ("fmn", {"alpha_init": 0}), ("fmn", {"alpha_final": 2.0}), ("fmn", {"gamma_init": 1.0}),
     ("sigma_zero", {"steps": 0}), ("sigma_zero", {"eta": 0}), ("sigma_zero", {"sigma": 0}), ("sigma_zero", {"tau": 2})],
)  # fmt: skip
def test_invalid_options_are_refused(random_model, name, options):
    with pytest.raises(ConfigError):
        ATTACKS[name](random_model, EPS, **options)
