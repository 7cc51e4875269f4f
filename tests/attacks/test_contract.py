"""The contract every registered attack keeps, checked over the whole registry on a tiny model and short clips:
δ is x_adv − x, |δ| ≤ ε and the clip stays in range, a budgeted attack changes at most its k samples, the
same seed gives the same audio, and a targeted attack reports success as landing on its target."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from staa.attacks.base import Attack, BudgetedAttack
from staa.attacks.registry import ATTACKS, attack_class
from staa.attacks.staa import Generator, GeneratorConfig
from staa.attacks.universal import UniversalConfig

EPS, K_PERCENT, TARGET = 0.05, 10.0, 1


def _universal(model: nn.Module, targeted: bool) -> Attack:
    attack = attack_class("universal")(model, EPS, k_percent=K_PERCENT, targeted=targeted)
    clips = (0.3 * torch.randn(4, 2000, generator=torch.Generator().manual_seed(7))).clamp(-1, 1)
    attack.fit(clips, target=TARGET if targeted else None, config=UniversalConfig(epochs=1, batch_size=4))
    return attack


def _staa(model: nn.Module, targeted: bool) -> Attack:
    config = GeneratorConfig.authors(levels=3, features=4, mask="topk", k_percent=K_PERCENT, bound="clip", eps=EPS)
    return attack_class("staa")(model, Generator(config), targeted=targeted)


#: Each registered attack at its cheapest settings (a new attack must add itself here).
BUILD: dict[str, Callable[[nn.Module, bool], Attack]] = {
    "pgd": lambda m, t: attack_class("pgd")(m, EPS, k_percent=K_PERCENT, steps=3, targeted=t),
    "pgd0": lambda m, t: attack_class("pgd0")(m, EPS, k_percent=K_PERCENT, steps=3, targeted=t),
    "sparse_rs": lambda m, t: attack_class("sparse_rs")(m, EPS, k_percent=K_PERCENT, queries=15, targeted=t),
    "sigma_zero": lambda m, t: attack_class("sigma_zero")(m, EPS, steps=3, targeted=t),
    "fmn": lambda m, t: attack_class("fmn")(m, EPS, steps=3, targeted=t),
    "sparsefool": lambda m, t: attack_class("sparsefool")(m, EPS, steps=2, deepfool_steps=3, candidates=2, targeted=t),
    "onepixel": lambda m, t: attack_class("onepixel")(m, EPS, pixels=2, popsize=6, iterations=2, targeted=t),
    "staa": _staa,
    "zero": lambda m, t: attack_class("zero")(m, EPS, targeted=t),
    "universal": _universal,
}


def test_every_public_attack_is_checked():
    assert sorted(BUILD) == ATTACKS.names()


def run(name: str, model: nn.Module, x: Tensor, *, targeted: bool = False, seed: int = 0):
    torch.manual_seed(seed)
    attack = BUILD[name](model, targeted)
    torch.manual_seed(seed)
    return attack, attack(x, target=TARGET if targeted else None)


@pytest.mark.parametrize("name", sorted(BUILD))
def test_delta_epsilon_range_and_budget(name: str, random_model: nn.Module, random_inputs: Tensor):
    attack, result = run(name, random_model, random_inputs)
    assert torch.equal(result.delta, result.x_adv - random_inputs)
    if not attack.control:  # δ = 0 (its generator's shifted clip, when given one, is no δ to bound)
        assert float(result.delta.abs().max()) <= EPS + 1e-6
    assert float(result.x_adv.min()) >= -1 and float(result.x_adv.max()) <= 1
    assert result.x_adv.shape == random_inputs.shape and result.success.shape == (len(random_inputs),)
    assert torch.equal(result.success, result.adv_pred != result.clean_pred)  # untargeted: the clean prediction left
    if isinstance(attack, BudgetedAttack):
        k = max(1, math.floor(K_PERCENT * random_inputs.shape[1] / 100))
        assert int(result.l0.max()) <= k


@pytest.mark.parametrize("name", sorted(BUILD))
def test_the_same_seed_gives_the_same_audio(name: str, random_model: nn.Module, random_inputs: Tensor):
    _, first = run(name, random_model, random_inputs, seed=3)
    _, second = run(name, random_model, random_inputs, seed=3)
    assert torch.equal(first.x_adv, second.x_adv) and torch.equal(first.success, second.success)


@pytest.mark.parametrize("name", sorted(BUILD))
def test_targeted_success_is_landing_on_the_target(name: str, random_model: nn.Module, random_inputs: Tensor):
    attack, result = run(name, random_model, random_inputs, targeted=True)
    assert attack.targeted and torch.equal(result.target, torch.full((len(random_inputs),), TARGET))
    assert torch.equal(result.success, result.adv_pred == TARGET)
    assert float((result.x_adv - random_inputs).abs().max()) <= EPS + 1e-6 or attack.control
