"""Robust-accuracy and targeted-success bookkeeping on a real (tiny) victim and real sparse PGD."""

from __future__ import annotations

import pytest
import torch

from staa.data.cache import PreparedCorpus
from staa.defenses import MedianFilter, Quantization
from staa.evaluation.robustness import attack_factory, robust_accuracy, robustness_table
from staa.errors import ConfigError
from staa.evaluation.targeted import targeted_success_by_class
from staa.models import build_model


@pytest.fixture(scope="module")
def setting(tiny_corpus: PreparedCorpus):
    torch.manual_seed(0)
    victim = build_model("emo18", num_classes=7, class_names=list(tiny_corpus.classes), hidden=64).eval()
    test = tiny_corpus.split("test")
    return victim, torch.from_numpy(test.waves[:8].copy()), torch.from_numpy(test.labels[:8])


@pytest.fixture(scope="module")
def result(setting):
    victim, x, y = setting
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


def test_victim_is_left_in_eval_mode(setting, result):
    assert not setting[0].training


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


def test_targeted_success_is_reported_per_target_class_excluding_free_successes(setting):
    victim, x, _ = setting
    report = targeted_success_by_class(attack_factory("pgd", eps=0.05, steps=3, targeted=True), victim, x[:3])
    clean = victim.predict(x[:3])
    assert list(report["per_target"]) == list(victim.config.class_names)
    for t, entry in enumerate(report["per_target"].values()):
        assert entry["n"] == int((clean != t).sum())
        assert entry["success_rate"] is None or 0.0 <= entry["success_rate"] <= 1.0
    assert report["overall_success_rate"] is not None and report["overall_success_rate"] > 0
    with pytest.raises(ConfigError, match="targeted=True"):
        targeted_success_by_class(attack_factory("pgd", eps=0.05), victim, x[:1])
