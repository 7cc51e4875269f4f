"""One-Pixel: differential evolution finds the one decisive sample, reaches targets, changes at most
``pixels`` samples within ε (or ε·|x| when multiplicative), is reproducible, and stops early."""

from __future__ import annotations

import pytest
import torch

from staa.attacks.onepixel import OnePixel
from staa.errors import ConfigError

EPS = 0.05


def test_finds_the_single_decisive_sample(spike):
    model, x = spike(4, 32, 7)
    result = OnePixel(model, EPS, popsize=64, seed=0)(x)
    assert result.success.all()
    assert set(torch.nonzero(result.delta)[:, 1].tolist()) == {7}
    assert result.delta.abs().max() <= EPS + 1e-6


@pytest.mark.parametrize("target", [1, 2])
def test_targeted_reaches_the_target(spike, target):
    model, x = spike(4, 32, 7)
    result = OnePixel(model, EPS, popsize=64, targeted=True, seed=0)(x, target=target)
    assert (result.adv_pred == target).all()
    assert set(torch.nonzero(result.delta)[:, 1].tolist()) == {7}


@pytest.mark.parametrize("pixels", [1, 3])
@pytest.mark.parametrize("targeted", [False, True])
def test_at_most_pixels_samples_change_within_eps(random_model, random_inputs, pixels, targeted):
    attack = OnePixel(random_model, EPS, pixels=pixels, popsize=16, iterations=3, targeted=targeted, seed=0)
    result = attack(random_inputs, target=1 if targeted else None)
    l0 = (result.delta != 0).sum(dim=1)
    assert (l0 >= 1).all() and (l0 <= pixels).all()
    assert result.delta.abs().max() <= EPS + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1


def test_multiplicative_change_is_relative_to_the_sample(random_model, random_inputs):
    result = OnePixel(random_model, 0.5, pixels=2, popsize=16, iterations=3, multiplicative=True, seed=0)(random_inputs)
    changed = result.delta != 0
    assert changed.any(dim=1).all()
    assert (result.delta.abs() <= 0.5 * random_inputs.abs() + 1e-6).all()
    ratio = result.delta[changed] / random_inputs[changed]
    assert ratio.abs().max() <= 0.5 + 1e-5


def test_the_same_seed_gives_the_same_audio(random_model, random_inputs):
    runs = [OnePixel(random_model, EPS, popsize=16, iterations=2, seed=5)(random_inputs).x_adv for _ in range(2)]
    assert torch.equal(runs[0], runs[1])


def test_queries_stop_when_fooled_and_run_all_generations_otherwise(spike, counting):
    model, x = spike(2, 32, 7)
    counted = counting(model)
    popsize, iterations = 64, 20
    OnePixel(counted, EPS, popsize=popsize, iterations=iterations, seed=0).perturb(x, torch.zeros(2, dtype=torch.long))
    assert counted.clips < 2 * popsize * (iterations + 1) / 4
    counted.clips = 0
    hopeless = OnePixel(counted, 0.001, popsize=popsize, iterations=iterations, seed=0)  # 0.001 cannot flip
    result = hopeless.perturb(x, torch.zeros(2, dtype=torch.long))
    assert counted.clips == 2 * popsize * (iterations + 1)
    assert (model(result).argmax(1) == 0).all()


@pytest.mark.parametrize(
    "options", [{"pixels": 0}, {"popsize": 3}, {"iterations": -1}, {"mutation": (1.0, 0.5)}, {"query_batch": 0}]
)
def test_invalid_options_are_refused(random_model, options):
    with pytest.raises(ConfigError):
        OnePixel(random_model, EPS, **options)
