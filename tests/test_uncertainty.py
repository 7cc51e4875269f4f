"""Bootstrap intervals over clips cover the truth as often as they claim; edge cases; spread over seeds."""

from __future__ import annotations

import numpy as np
import pytest

from staa.metrics import accuracy, correct_to_wrong_rate, uar
from staa.uncertainty import (
    Bootstrap,
    accuracy_interval,
    asr_interval,
    correct_to_wrong_interval,
    rate_interval,
    spread,
    uar_interval,
)


def test_accuracy_interval_covers_the_true_rate_about_95_percent_of_the_time() -> None:
    """300 test sets of 80 clips from a model that is right with probability 0.7."""
    rng = np.random.default_rng(0)
    hits = [rate_interval(rng.random(80) < 0.7, resamples=1000, seed=i) for i in range(300)]
    coverage = np.mean([i.low <= 0.7 <= i.high for i in hits])
    assert 0.90 <= coverage <= 0.99
    # width close to the normal approximation 2 · 1.96 · sqrt(p(1-p)/n) = 0.20
    assert np.mean([i.high - i.low for i in hits]) == pytest.approx(0.20, abs=0.02)


def test_uar_interval_covers_the_true_uar() -> None:
    """Three classes (50/30/20 % of the clips) with recalls 0.8/0.5/0.3: true UAR 0.533."""
    rng = np.random.default_rng(1)
    recall = np.array([0.8, 0.5, 0.3])
    covered = []
    for i in range(200):
        y = rng.choice(3, size=120, p=[0.5, 0.3, 0.2])
        right = rng.random(120) < recall[y]
        pred = np.where(right, y, (y + 1) % 3)
        ci = uar_interval(pred, y, 3, resamples=1000, seed=i)
        assert ci.value == pytest.approx(uar(pred, y, 3))
        covered.append(ci.low <= recall.mean() <= ci.high)
    assert 0.88 <= np.mean(covered) <= 0.99


def test_point_estimates_match_the_metrics() -> None:
    rng = np.random.default_rng(2)
    y, clean, adv = (rng.integers(0, 4, 50) for _ in range(3))
    assert accuracy_interval(clean, y).value == pytest.approx(accuracy(clean, y))
    assert asr_interval(clean, adv).value == pytest.approx(np.mean(clean != adv))
    assert asr_interval(clean, adv, target=y).value == pytest.approx(np.mean((adv == y) & (clean != y)))
    assert correct_to_wrong_interval(clean, adv, y).value == pytest.approx(correct_to_wrong_rate(clean, adv, y))


def test_all_correct_collapses_to_the_point() -> None:
    y = np.arange(20) % 4
    ci = uar_interval(y, y)
    assert (ci.value, ci.low, ci.high, ci.half_width) == (1.0, 1.0, 1.0, 0.0)


def test_one_clip() -> None:
    ci = accuracy_interval([2], [3])
    assert (ci.value, ci.low, ci.high, ci.n) == (0.0, 0.0, 0.0, 1)


def test_a_class_absent_from_the_labels_is_skipped_as_by_uar() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])  # class 2 of 3 absent
    pred = np.array([0, 0, 2, 1, 2, 2])
    ci = uar_interval(pred, y, 3)
    assert ci.value == pytest.approx(uar(pred, y, 3)) == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert 0 <= ci.low <= ci.value <= ci.high <= 1


def test_rate_among_no_clip_is_nan() -> None:
    ci = correct_to_wrong_interval([1, 1], [0, 0], [0, 0])  # nothing was correct before the attack
    assert np.isnan(ci.value) and np.isnan(ci.low)


def test_same_seed_same_interval_and_paired_redraws() -> None:
    rng = np.random.default_rng(3)
    y, a, b = (rng.integers(0, 5, 40) for _ in range(3))
    assert uar_interval(a, y, seed=4) == uar_interval(a, y, seed=4)
    boot = Bootstrap(40, seed=4)
    diff = boot.uar(a, y, 5) - boot.uar(a, y, 5)
    assert np.all(diff == 0)  # the same redraws for both: a model minus itself is exactly 0
    assert not np.array_equal(boot.uar(a, y, 5), boot.uar(b, y, 5))


def test_interval_is_reported_as_a_dict_with_its_half_width() -> None:
    d = accuracy_interval([0, 1, 1, 0], [0, 1, 0, 0]).to_dict()
    assert set(d) == {"value", "low", "high", "n", "level", "half_width"}
    assert d["half_width"] == pytest.approx((d["high"] - d["low"]) / 2)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        accuracy_interval([], [])
    with pytest.raises(ValueError, match="expected 3 clips"):
        Bootstrap(3).rate([True, False])
    with pytest.raises(ValueError):
        Bootstrap(3, level=1.0)


def test_spread_over_seeds() -> None:
    s = spread([0.5, 0.6, 0.7, float("nan")])
    assert (s.mean, s.low, s.high, s.n) == pytest.approx((0.6, 0.5, 0.7, 3))
    assert s.sd == pytest.approx(0.1)
    assert spread([0.4]).sd == 0.0
    with pytest.raises(ValueError):
        spread([float("nan")])
