"""Targeted success per class on a real (tiny) victim and real sparse PGD: free successes excluded."""

from __future__ import annotations

import pytest

from staa.errors import ConfigError
from staa.evaluation.robustness import attack_factory
from staa.evaluation.targeted import targeted_success_by_class


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
