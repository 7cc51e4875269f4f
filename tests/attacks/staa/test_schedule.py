"""The mask schedule: dense, then geometric annealing to the budget, then the budget."""

from __future__ import annotations

import math

import pytest

from staa.attacks.staa.schedule import DensitySchedule
from staa.errors import ConfigError


def test_dense_start_geometric_annealing_then_the_budget() -> None:
    s = DensitySchedule(target_pct=10.0, dense_steps=3, anneal_steps=4)
    pcts = [s.pct(i) for i in range(9)]
    assert pcts[:3] == [100.0] * 3
    assert pcts[6:] == [10.0] * 3 and s.settled == 7
    ratios = [pcts[i + 1] / pcts[i] for i in range(2, 6)]
    assert ratios == pytest.approx([10 ** (-1 / 4)] * 4)  # the same share of the kept samples goes each step
    assert [s.progress(i) for i in (0, 2, 3, 6, 50)] == [0.0, 0.0, 0.25, 1.0, 1.0]


def test_no_annealing_means_the_budget_from_the_start() -> None:
    s = DensitySchedule(target_pct=5.0)
    assert s.pct(0) == 5.0 and s.settled == 0 and s.progress(0) == 1.0
    assert math.isclose(DensitySchedule(5.0, 0, 1).pct(0), 5.0)


def test_invalid_schedules_are_refused() -> None:
    with pytest.raises(ConfigError):
        DensitySchedule(0.0)
    with pytest.raises(ConfigError):
        DensitySchedule(10.0, dense_steps=-1)


def test_a_schedule_longer_than_the_run_is_shrunk_to_settle_by_its_middle():
    schedule = DensitySchedule(10.0, dense_steps=300, anneal_steps=600)
    assert schedule.fitted(2000) is schedule and schedule.fitted(901) is schedule
    short = schedule.fitted(90)
    assert (short.dense_steps, short.anneal_steps) == (15, 30) and short.settled <= 45
    assert short.pct(0) == 100.0 and short.pct(44) == 10.0
    assert DensitySchedule(10.0, 0, 5).fitted(1).settled == 1  # never zero annealing steps
