"""Metrics of the masks: Jaccard overlap across clips and periodicity within a clip."""

from __future__ import annotations

import math

import pytest
import torch

from staa.metrics import mask_jaccard, mask_periodicity


def comb(b: int, n: int, period: int, phase: int = 0) -> torch.Tensor:
    m = torch.zeros(b, n)
    m[:, phase::period] = 0.05
    return m


def random_mask(b: int, n: int, share: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, n, generator=g) < share).float() * 0.05


def test_jaccard_of_identical_masks_is_one_and_of_disjoint_masks_zero() -> None:
    assert mask_jaccard(comb(4, 1000, 8)) == pytest.approx(1.0)
    disjoint = torch.cat([comb(1, 1000, 8, 0), comb(1, 1000, 8, 1)])
    assert mask_jaccard(disjoint) == 0.0


def test_jaccard_of_independent_random_masks_is_near_s_over_two_minus_s() -> None:
    s = 0.1
    value = mask_jaccard(random_mask(6, 20_000, s))
    assert value == pytest.approx(s / (2 - s), abs=0.01)


def test_jaccard_skips_pairs_of_empty_masks_and_needs_two_clips() -> None:
    m = torch.cat([torch.zeros(2, 100), comb(2, 100, 5)])
    assert mask_jaccard(m) == pytest.approx(1 / 5)  # 1 identical pair of the 5 non-empty pairs, 4 disjoint
    assert math.isnan(mask_jaccard(comb(1, 100, 5)))
    assert math.isnan(mask_jaccard(torch.zeros(3, 100)))


@pytest.mark.parametrize("period", [2, 7, 64, 500])
def test_a_comb_is_periodic(period: int) -> None:
    assert mask_periodicity(comb(2, 16_000, period)).min() > 0.95


def test_random_positions_are_not_periodic_and_constant_masks_are_undefined() -> None:
    p = mask_periodicity(random_mask(3, 16_000, 0.1))
    assert p.max() < 0.1
    undefined = mask_periodicity(torch.stack([torch.zeros(100), torch.ones(100)]))
    assert torch.isnan(undefined).all()


def test_periodicity_ignores_lag_one() -> None:
    """Pairs of neighbouring samples correlate at lag 1 only, which is outside the lags 2…512."""
    m = torch.zeros(1, 10_000)
    starts = torch.randperm(9_999, generator=torch.Generator().manual_seed(0))[:400]
    m[0, starts] = 1.0
    m[0, starts + 1] = 1.0
    assert mask_periodicity(m).item() < 0.2
