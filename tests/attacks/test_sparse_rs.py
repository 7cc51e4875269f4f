"""Sparse-RS: the authors' α schedule rescaled to the budget, exactly k samples at ±ε, no clip queried
more than ``queries`` times, fooled clips stop, seeds reproduce."""

from __future__ import annotations

import pytest
import torch

from staa.attacks.sparse_rs import SparseRS, alpha_schedule
from staa.errors import ConfigError

EPS = 0.05


@pytest.mark.parametrize(
    ("iteration", "factor"),
    [(1, 2), (50, 2), (51, 4), (200, 4), (201, 5), (1000, 6), (1001, 8), (4000, 10), (6000, 12), (8000, 15),
     (8001, 20), (9999, 20)],
)  # fmt: skip
def test_alpha_follows_the_authors_schedule(iteration, factor):
    assert alpha_schedule(0.3, iteration, 10000) == pytest.approx(0.3 / factor)


def test_the_schedule_is_rescaled_to_the_query_budget():
    assert alpha_schedule(0.3, 5, 1000) == pytest.approx(0.15)  # query 50 of 10 000
    assert alpha_schedule(0.3, 6, 1000) == pytest.approx(0.075)  # query 60 of 10 000
    assert alpha_schedule(0.3, 999, 1000) == pytest.approx(0.015)


@pytest.mark.parametrize("k", [1, 40, 2000])
@pytest.mark.parametrize("targeted", [False, True])
def test_exactly_k_samples_change_by_eps(random_model, k, targeted):
    x = 0.6 * torch.rand(3, 2000, generator=torch.Generator().manual_seed(2)) - 0.3  # far from the limits
    result = SparseRS(random_model, EPS, k=k, queries=30, targeted=targeted, seed=0)(x, target=1 if targeted else None)
    assert (result.l0 == k).all()
    changed = result.delta[result.delta != 0].abs()
    torch.testing.assert_close(changed, torch.full_like(changed, EPS))


def test_eps_and_amplitude_range_hold_near_the_limits(random_model, random_inputs):
    result = SparseRS(random_model, EPS, k=300, queries=20, seed=0)(random_inputs)
    assert (result.l0 <= 300).all()
    assert result.delta.abs().max() <= EPS + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1


def test_queries_stop_when_fooled_and_never_exceed_the_budget(mixed_spike, counting):
    model, x, reachable = mixed_spike(6, 128, 11)
    counted = counting(model)
    queries, b = 400, len(x)
    result = SparseRS(counted, 0.005, k=1, queries=queries, seed=0)(x)
    assert torch.equal(result.success, reachable)
    hopeless = int((~reachable).sum())
    # clean and final predictions (2b) and the label check (1) around the search
    search = counted.clips - 2 * b - 1
    assert hopeless * queries < search < hopeless * queries + (b - hopeless) * queries / 2


def test_the_same_seed_gives_the_same_audio(random_model, random_inputs):
    runs = [SparseRS(random_model, EPS, k=50, queries=10, seed=3)(random_inputs).x_adv for _ in range(2)]
    assert torch.equal(runs[0], runs[1])


@pytest.mark.parametrize(
    "options",
    [{}, {"k": 1, "k_percent": 2}, {"k": 1, "queries": 0}, {"k": 1, "alpha_init": 0}, {"k": 1, "alpha_init": 1.5}],
)
def test_invalid_options_are_refused(random_model, options):
    with pytest.raises(ConfigError):
        SparseRS(random_model, EPS, **options)
