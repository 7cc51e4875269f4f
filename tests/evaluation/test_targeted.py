"""Targeted success per class on a real (tiny) victim and real sparse PGD: free successes excluded; each
target's rate with its bootstrap interval over its clips, the means over targets without."""

from __future__ import annotations

import pytest
import torch

from staa.errors import ConfigError
from staa.evaluation.robustness import attack_factory
from staa.evaluation.tables import targeted_success_table
from staa.evaluation.targeted import success_rates, target_entry, targeted_success_by_class


def test_targeted_success_is_reported_per_target_class_excluding_free_successes(tiny_victim):
    victim, x, _ = tiny_victim
    report = targeted_success_by_class(attack_factory("pgd", eps=0.05, steps=3, targeted=True), victim, x[:3])
    clean = victim.predict(x[:3])
    assert list(report["per_target"]) == list(victim.config.class_names)
    for t, entry in enumerate(report["per_target"].values()):
        assert entry["n"] == int((clean != t).sum())
        assert entry["success_rate"] is None or 0.0 <= entry["success_rate"] <= 1.0
    assert report["overall_success_rate"] is not None and report["overall_success_rate"] > 0
    with pytest.raises(ConfigError, match="targeted=True"):
        targeted_success_by_class(attack_factory("pgd", eps=0.05), victim, x[:1])


def _entry(target: int, outcomes: list[bool]) -> dict:
    n = len(outcomes)
    return target_entry(target, torch.tensor(outcomes, dtype=torch.bool), torch.full((n,), 20.0), torch.full((n,), 1.0))


def test_a_targets_interval_collapses_when_every_clip_succeeds_and_brackets_a_mix():
    every = _entry(0, [True] * 12)
    assert every["success_rate_ci"]["low"] == every["success_rate_ci"]["high"] == 1.0
    mix = _entry(1, [True] * 10 + [False] * 30)
    ci = mix["success_rate_ci"]
    assert ci["value"] == 0.25 and ci["n"] == 40 and ci["low"] < 0.25 < ci["high"]
    assert 0.09 < ci["half_width"] < 0.19  # ≈ ±1.96·√(0.25·0.75/40) ≈ ±13.4 points
    none = _entry(2, [])
    assert none["success_rate"] is None and none["success_rate_ci"] is None


def test_the_table_prints_each_target_with_its_interval_and_the_means_bare():
    result = success_rates(
        {"a": _entry(0, [True] * 12), "b": _entry(1, [True] * 10 + [False] * 30), "c": _entry(2, [])}
    )
    table = targeted_success_table(result, "Targeted success")
    rates = [row[2] for row in table.rows]
    assert rates[0] == "100.0 ± 0.0" and rates[1].startswith("25.0 ± ") and rates[2] == "–"
    assert rates[3:] == ["62.50", "42.31"]  # macro mean (100 + 25) / 2; micro 22 of 52 attempts
    assert table.title.endswith(
        "; ± half-width of the 95 % bootstrap interval over each target's n clips, the means over targets without"
    )
    for e in result["per_target"].values():  # a targeted.json written before the intervals
        del e["success_rate_ci"]
    old = targeted_success_table(result, "Targeted success")
    assert [row[2] for row in old.rows][:2] == ["100.00", "25.00"] and old.title == "Targeted success"
