"""PGD₀: the ε and k budgets hold, positions are re-selected (it finds the decisive sample that the
fixed support of sparse PGD misses), fooled clips stop, restarts rerun the unfooled, seeds reproduce."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from staa.attacks.pgd import SparsePGD
from staa.attacks.pgd0 import PGD0
from staa.errors import ConfigError
from staa.models.base import SERConfig, SERModel

EPS = 0.05


class DecoyModel(SERModel):
    """Class 1 when 0.5·tanh(20 z_a) + 4 z_b > 1, class 0 otherwise.

    At the clean clip (z_a = z_b = 0) sample a has the steeper gradient (10 against 4), but tanh caps
    its contribution at 0.5; only sample b, moved by about ε (Δz_b ≈ 0.5), can flip the decision.
    """

    def __init__(self, a: int, b: int) -> None:
        super().__init__(SERConfig(num_classes=2))
        self.a, self.b = a, b
        self.scale = nn.Parameter(torch.tensor(1.0))

    def classify(self, z: Tensor) -> Tensor:
        score = 0.5 * torch.tanh(20 * z[:, self.a]) + 4 * z[:, self.b] - 1
        return torch.stack([torch.zeros_like(score), self.scale * score], 1)


def decoy_clips() -> Tensor:
    x = 0.1 * torch.randn(4, 64, generator=torch.Generator().manual_seed(0))
    for p in (5, 40):  # both samples start at the clip mean: z_a = z_b = 0
        x[:, p] = (x.sum(1) - x[:, p]) / 63
    return x


def test_the_first_step_takes_the_decoy_and_the_second_the_decisive_sample():
    model, x = DecoyModel(a=5, b=40), decoy_clips()
    for steps, support, fooled in ((1, {5}, False), (2, {40}, True)):
        result = PGD0(model, EPS, k=1, steps=steps, random_start=False)(x)
        assert set(torch.nonzero(result.delta)[:, 1].tolist()) == support
        assert bool(result.success.all()) is fooled and bool(result.success.any()) is fooled


@pytest.mark.parametrize("random_start", [True, False])
def test_positions_are_reselected_until_the_decisive_sample_is_found(random_start):
    model, x = DecoyModel(a=5, b=40), decoy_clips()
    fixed = SparsePGD(model, EPS, k=1, seed=0)(x)
    assert not fixed.success.any()  # the clean gradient picks the decoy, once and for all
    assert set(torch.nonzero(fixed.delta)[:, 1].tolist()) == {5}
    reselected = PGD0(model, EPS, k=1, steps=10, random_start=random_start, seed=0)(x)
    assert reselected.success.all()
    assert set(torch.nonzero(reselected.delta)[:, 1].tolist()) == {40}


@pytest.mark.parametrize("k", [1, 17, 500, 2000])
@pytest.mark.parametrize("targeted", [False, True])
@pytest.mark.parametrize("loss", ["margin", "ce"])
def test_eps_and_k_are_never_exceeded(random_model, random_inputs, k, targeted, loss):
    result = PGD0(random_model, EPS, k=k, steps=4, restarts=2, loss=loss, targeted=targeted, seed=0)(
        random_inputs, target=3 if targeted else None
    )
    assert (result.l0 <= k).all() and (result.l0 >= 1).all()
    assert result.delta.abs().max() <= EPS + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1


def test_k_percent_bounds_the_sparsity(random_model, random_inputs):
    result = PGD0(random_model, EPS, k_percent=2.5, steps=3, seed=0)(random_inputs)
    assert (result.sparsity <= 2.5).all() and (result.sparsity > 0).all()


def test_fooled_clips_stop_and_unfooled_ones_run_every_restart(mixed_spike, counting):
    model, x, reachable = mixed_spike(6, 128, 11)
    counted = counting(model)
    steps, restarts, b = 8, 3, len(x)
    result = PGD0(counted, 0.005, k=1, steps=steps, restarts=restarts, seed=0)(x)
    assert torch.equal(result.success, reachable)
    hopeless = int((~reachable).sum())
    # clean and final predictions (2b), the label check (1), every restart of the hopeless clips
    # (steps gradients + 1 check each), and a few gradients per reachable clip, which leaves once
    # fooled (one step moves its support to the decisive sample) instead of running all restarts
    floor = 2 * b + 1 + restarts * hopeless * (steps + 1)
    assert floor < counted.clips <= floor + 3 * (b - hopeless)


def test_without_early_stop_every_clip_runs_every_step(mixed_spike, counting):
    """What a timing compares: the cost no longer depends on how easily the clips are fooled."""
    model, x, reachable = mixed_spike(6, 128, 11)
    counted = counting(model)
    steps, restarts, b = 8, 3, len(x)
    PGD0(counted, 0.005, k=1, steps=steps, restarts=restarts, early_stop=False, seed=0)(x)
    hopeless = int((~reachable).sum())
    # all clips run every step of the first restart (with early stop the reachable ones leave after a
    # step or two), the hopeless ones every step of the others; a restart redoes only unfooled clips
    assert counted.clips >= 2 * b + 1 + b * steps + (restarts - 1) * hopeless * steps
    early = counting(model)
    PGD0(early, 0.005, k=1, steps=steps, restarts=restarts, seed=0)(x)
    assert early.clips < 2 * b + 1 + b * steps + (restarts - 1) * hopeless * steps


def test_the_same_seed_gives_the_same_audio(random_model, random_inputs):
    runs = [PGD0(random_model, EPS, k=100, steps=3, seed=7)(random_inputs).x_adv for _ in range(2)]
    assert torch.equal(runs[0], runs[1])


@pytest.mark.parametrize(
    "options",
    [{}, {"k": 1, "k_percent": 2}, {"k": 0}, {"k": 1, "steps": 0}, {"k": 1, "restarts": 0}, {"k": 1, "eta": 0},
     {"k": 1, "loss": "l2"}],
)  # fmt: skip
def test_invalid_options_are_refused(random_model, options):
    with pytest.raises(ConfigError):
        PGD0(random_model, EPS, **options)
