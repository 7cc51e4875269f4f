"""Robust-accuracy bookkeeping on a real (tiny) victim and real sparse PGD."""

from __future__ import annotations

import pytest

from staa.defenses import MedianFilter, Quantization
from staa.evaluation.robustness import attack_factory, robust_accuracy, robustness_table


@pytest.fixture(scope="module")
def result(tiny_victim):
    victim, x, y = tiny_victim
    victim.eval()
    attacks = {
        "pgd": attack_factory("pgd", eps=0.05, k_percent=5, steps=3),
        "zero": attack_factory("zero"),
    }
    defenses = {"median": [MedianFilter(kernel=5)], "quantize": [Quantization(bits=8)]}
    return robust_accuracy({"emo18": victim}, defenses, attacks, x, y, adaptive=True, seed=0)


def rows(result, **match):
    return [r for r in result["rows"] if all(r[k] == v for k, v in match.items())]


def test_every_combination_has_a_row_and_the_clean_cost_of_each_defense(result):
    assert len(result["clean"]) == 3  # none, median, quantize
    # per attack: 3 non-adaptive rows (one per pipeline) + 2 adaptive rows (one per real defense)
    assert len(rows(result, attack="pgd")) == 5 and len(rows(result, mode="adaptive")) == 4
    none = rows(result, defence="none", attack="pgd")[0]
    for r in result["rows"]:
        assert r["clean_cost"] == pytest.approx(none["clean_accuracy"] - r["clean_accuracy"])
    assert none["clean_cost"] == 0.0


def test_victim_is_left_in_eval_mode(tiny_victim, result):
    assert not tiny_victim[0].training


def test_rows_measure_the_perturbation_and_stay_in_range(result):
    for r in rows(result, attack="pgd"):
        assert r["mean_sparsity_pct"] <= 5.0 + 1e-9  # k = 5 % of the samples, whatever the defense
        assert 0.0 <= r["asr"] <= 1.0 and 0.0 <= r["robust_accuracy"] <= 1.0


def test_zero_attack_leaves_deterministic_defenses_at_their_clean_accuracy(result):
    for r in rows(result, attack="zero"):
        assert r["asr"] == 0.0 and r["robust_accuracy"] == r["clean_accuracy"]


def test_median_filter_blunts_non_adaptive_sparse_pgd(result):
    bare = rows(result, defence="none", attack="pgd")[0]["asr"]
    median = rows(result, defence="median", attack="pgd", mode="non-adaptive")[0]["asr"]
    assert bare > 0 and median < bare


def test_table_has_one_line_per_row(result):
    table = robustness_table(result)
    assert len(table.rows) == len(result["rows"])
    assert "robust acc" in table.markdown()
