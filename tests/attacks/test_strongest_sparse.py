"""What the four state-of-the-art sparse attacks (PGD₀, Sparse-RS, FMN-L0, σ-zero) share: each finds the
one decisive sample of a hand-built model, untargeted and to either target, and in a batch that mixes
clips it can fool with clips it cannot, fools exactly the first kind within its budgets."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from staa.attacks.base import Attack
from staa.attacks.fmn import FMNL0
from staa.attacks.pgd0 import PGD0
from staa.attacks.registry import build_attack
from staa.attacks.sigma_zero import SigmaZero
from staa.attacks.sparse_rs import SparseRS

EPS = 0.05
SETTINGS = {  # registry name → settings for these small problems
    "pgd0": {"k": 1, "seed": 0},
    "sparse_rs": {"k": 1, "queries": 2000, "seed": 0},
    "fmn": {"steps": 30},
    "sigma_zero": {"steps": 30},
}
CLASSES = {"pgd0": PGD0, "sparse_rs": SparseRS, "fmn": FMNL0, "sigma_zero": SigmaZero}


def make(name: str, model: nn.Module, eps: float, **options) -> Attack:
    return build_attack(name, model, eps=eps, **SETTINGS[name], **options)


@pytest.mark.parametrize("name", SETTINGS)
def test_the_registry_builds_each_attack_by_name(random_model, name):
    attack = make(name, random_model, EPS)
    assert type(attack) is CLASSES[name] and attack.name == name


@pytest.mark.parametrize("name", SETTINGS)
def test_finds_the_one_decisive_sample(spike, name):
    model, x = spike(4, 256, 37)
    result = make(name, model, EPS)(x)
    assert result.success.all()
    assert set(torch.nonzero(result.delta)[:, 1].tolist()) == {37}
    assert (result.l0 == 1).all()
    assert result.delta.abs().max() <= EPS + 1e-6


@pytest.mark.parametrize("name", SETTINGS)
@pytest.mark.parametrize("target", [1, 2])
def test_targeted_moves_the_decisive_sample_towards_the_target(spike, name, target):
    model, x = spike(4, 256, 37)
    result = make(name, model, EPS, targeted=True)(x, target=target)
    assert (result.adv_pred == target).all()
    assert set(torch.nonzero(result.delta)[:, 1].tolist()) == {37}
    sign = 1 if target == 1 else -1  # class 1 lies above the sample, class 2 below
    assert (sign * result.delta[:, 37] > 0).all()


@pytest.mark.parametrize("name", SETTINGS)
def test_a_mixed_batch_fools_exactly_the_reachable_clips(mixed_spike, name):
    model, x, reachable = mixed_spike(6, 128, 11)
    eps = 0.005
    result = make(name, model, eps)(x)
    assert torch.equal(result.success, reachable)
    assert result.delta.abs().max() <= eps + 1e-6
    assert (result.l0[reachable] == 1).all()
    if name in ("fmn", "sigma_zero"):  # minimum-norm attacks return an unfooled clip unchanged
        assert (result.l0[~reachable] == 0).all()
    else:
        assert (result.l0 <= 1).all()
