"""Robust-accuracy bookkeeping on a real (tiny) victim and real sparse PGD; every rate of a row carries its
bootstrap interval over the row's clips."""

from __future__ import annotations

import pytest
import torch

from staa.defenses import MedianFilter, Quantization
from staa.evaluation.robustness import attack_factory, robust_accuracy, robustness_row, robustness_table
from staa.uncertainty import rate_interval


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
    assert all("±" in cell for row in table.rows for cell in (row[4], row[6], row[7]))  # clean acc, robust acc, ASR
    assert "bootstrap interval over 8 clips" in table.title


def test_every_rate_of_a_row_has_an_interval_around_it(result):
    for r in result["rows"]:
        for key in ("clean_accuracy", "robust_accuracy", "asr"):
            ci = r[f"{key}_ci"]
            assert ci["value"] == pytest.approx(r[key]) and ci["low"] <= r[key] <= ci["high"] and ci["n"] == r["n"]
    for r in rows(result, attack="zero", defence="median"):
        assert r["asr_ci"]["low"] == r["asr_ci"]["high"] == 0.0  # nothing flips: the interval is the point


def _sizes(n: int) -> dict:
    return {"snr_db": torch.full((n,), 20.0), "sparsity": torch.full((n,), 5.0)}


def test_row_intervals_on_hand_made_predictions():
    # 30 clips, all classified right; the attack flips 12 of them (all to wrong)
    y = torch.zeros(30, dtype=torch.long)
    adv = torch.tensor([1] * 12 + [0] * 18)
    row = robustness_row("v", "none", "pgd", "non-adaptive", clean_pred=y, adv_pred=adv, y=y,
                         clean_acc={"none": 1.0}, **_sizes(30))  # fmt: skip
    assert row["clean_accuracy_ci"]["low"] == row["clean_accuracy_ci"]["high"] == 1.0  # every clip right
    assert row["asr"] == pytest.approx(0.4) and row["robust_accuracy"] == pytest.approx(0.6)
    assert row["asr_ci"] == rate_interval(adv == 1).to_dict()  # the flips' indicator, redrawn over the clips
    assert row["asr_ci"]["low"] < 0.4 < row["asr_ci"]["high"] and 0.12 < row["asr_ci"]["half_width"] < 0.24  # ≈ ±17.5
    # robust accuracy is the complement here, on the same redraws: its interval mirrors the ASR's
    assert row["robust_accuracy_ci"]["low"] == pytest.approx(1 - row["asr_ci"]["high"])


def test_an_old_row_without_intervals_still_renders_bare():
    old = {"victim": "v", "defence": "none", "attack": "pgd", "mode": "non-adaptive", "n": 8, "clean_accuracy": 0.75,
           "clean_cost": 0.0, "robust_accuracy": 0.25, "asr": 0.5}  # fmt: skip
    table = robustness_table({"rows": [old]})
    assert table.rows == [["v", "none", "pgd", "non-adaptive", "75.00", "+0.0", "25.00", "50.00"]]
    assert "bootstrap" not in table.title
    assert "robust acc" in table.markdown()
