"""Curves: a budget sweep gives the ASR and measured sparsity a hand-built victim implies, per victim;
one minimum-norm run gives the same curve; stored crafted sets give the same points on every victim; every
point's ASR and robust accuracy carry the bootstrap interval of their per-clip indicators; the CSV
round-trips and the figure is a PNG."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from staa.attacks.base import Attack, AttackResult, SampleBudget
from staa.evaluation.adversarial_set import AdversarialSet
from staa.evaluation.curves import (
    CurvePoint,
    measure,
    minimum_norm_curve,
    minimum_norm_set_curve,
    plot,
    set_points,
    sweep,
    sweepable,
    write_csv,
)
from staa.models.base import SERConfig, SERModel
from staa.uncertainty import rate_interval

N = 100


class CountModel(SERModel):
    """Class 1 when at least ``needed[i]`` samples of clip i exceed 0.02 (clip i of the fixed batch)."""

    def __init__(self, needed: list[int]) -> None:
        super().__init__(SERConfig(num_classes=2))
        self.needed = torch.tensor(needed, dtype=torch.float32)
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: Tensor) -> Tensor:
        votes = (x > 0.02).sum(1).float() - self.needed[: len(x)] + 0.5
        return torch.stack([torch.zeros_like(votes), self.scale * votes], 1)


class FirstSamples(Attack):
    """Raises the first k% of every clip by 0.04: the sparsity is exactly the budget."""

    def __init__(self, model: nn.Module, k_percent: float) -> None:
        super().__init__(model, 0.05)
        self.k = SampleBudget(k_percent=k_percent).of(N)

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        x_adv = x.clone()
        x_adv[:, : self.k] += 0.04
        return x_adv


@pytest.fixture
def victims() -> dict[str, CountModel]:
    return {"threat": CountModel([1, 3, 6, 50]), "other": CountModel([2, 2, 20, 200])}


def test_a_sweep_gives_asr_and_measured_sparsity_per_victim(victims):
    x, labels = torch.zeros(4, N), torch.tensor([0, 0, 1, 1])
    points = sweep(
        lambda k: FirstSamples(victims["threat"], k), [10, 1, 2, 5], x, victims, attacker="first", labels=labels
    )
    by = {(p.victim, p.budget): p for p in points}
    assert [by["threat", k].asr for k in (1, 2, 5, 10)] == [0.25, 0.25, 0.5, 0.75]
    assert [by["other", k].asr for k in (1, 2, 5, 10)] == [0.0, 0.5, 0.5, 0.5]
    assert [by["threat", k].sparsity_pct for k in (1, 2, 5, 10)] == pytest.approx([1, 2, 5, 10])
    assert by["threat", 10].robust_accuracy == 0.25  # adversarial predictions [1, 1, 1, 0] against [0, 0, 1, 1]
    assert all(p.n_clips == 4 and not p.point for p in points)
    assert [p.budget for p in points if p.victim == "threat"] == [1, 2, 5, 10]


def test_an_attack_without_a_budget_is_one_marked_point(victims):
    (point,) = measure(FirstSamples(victims["threat"], 5), torch.zeros(4, N), {"threat": victims["threat"]},
                       attacker="generator", point=True)  # fmt: skip
    assert point.point and point.budget is None and point.asr == 0.5 and point.robust_accuracy is None


def test_a_minimum_norm_run_gives_the_whole_curve():
    delta = torch.zeros(4, N)
    for row, l0 in enumerate([1, 3, 0, 8]):
        delta[row, :l0] = 0.01
    success = torch.tensor([True, True, False, True])
    result = AttackResult(delta, delta, torch.zeros(4).long(), success.long(), torch.zeros(4).long(), success, 0.0)
    points = minimum_norm_curve(result, [10, 1, 2, 5], attacker="sigma_zero", victim="threat")
    assert [p.asr for p in points] == [0.25, 0.25, 0.5, 0.75]
    assert [p.sparsity_pct for p in points] == pytest.approx([1, 1, 2, 4])


def test_csv_round_trips_and_the_figure_is_a_png(tmp_path):
    ci = {"value": 0.75, "low": 0.5, "high": 0.875, "half_width": 0.1875, "n": 49, "level": 0.95}
    points = [
        CurvePoint("pgd0", "emo18", 1.0, 0.9, 0.25, 49, 0.5),
        CurvePoint("pgd0", "emo18", 10.0, 9.8, 0.75, 49, 0.25, asr_ci=ci),
        CurvePoint("STAA-Net", "emo18", None, 3.3, 0.6, 49, None, True),
    ]
    rows = list(csv.DictReader(write_csv(points, tmp_path / "curves.csv").open()))
    assert [r["attacker"] for r in rows] == ["pgd0", "pgd0", "STAA-Net"]
    assert rows[1]["asr"] == "0.75" and rows[2]["budget"] == "" and rows[2]["point"] == "True"
    # an interval is two numeric columns, empty where a point has none
    assert (rows[1]["asr_low"], rows[1]["asr_high"], rows[0]["asr_low"], rows[1]["robust_accuracy_high"]) == (
        "0.5",
        "0.875",
        "",
        "",
    )
    png = plot(points, tmp_path / "curves.png", title="EmoDB")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _stored_set(sparsity: list[float], success: list[bool], labels: list[int], mean: float | None) -> AdversarialSet:
    """A crafted set as :class:`AdversarialSet` reads it back: per-clip records and the summary."""
    examples = [{"index": i, "sparsity_pct": s, "success": ok, "label": y}
                for i, (s, ok, y) in enumerate(zip(sparsity, success, labels))]  # fmt: skip
    records = {"examples": examples, "summary": {"sparsity_pct": mean}, "target": None}
    n = len(examples)
    return AdversarialSet(Path("unused"), np.arange(n), np.array(labels), np.zeros((n, N), np.float32), records)


def _replay(clean: list[int], adv: list[int], asr: float = 0.0, adv_accuracy: float = 0.0) -> dict:
    return {"clean_pred": clean, "adv_pred": adv, "asr": asr, "n": len(clean), "adv_accuracy": adv_accuracy}


def test_a_stored_minimum_norm_set_gives_each_victim_its_curve_and_robust_accuracy():
    # clips need 1, 3 and 8 % of their samples; clip 2 was never fooled (its 50 % does not count)
    adv = _stored_set([1.0, 3.0, 50.0, 8.0], [True, True, False, True], [0, 0, 1, 1], mean=4.0)
    victims = {"threat": _replay([0, 0, 1, 1], [1, 1, 1, 0]), "other": _replay([0, 1, 1, 1], [0, 0, 1, 0])}
    points = minimum_norm_set_curve(adv, victims, [10, 2, 5], attacker="sigma_zero")
    by = {(p.victim, p.budget): p for p in points}
    assert [by["threat", k].asr for k in (2, 5, 10)] == [0.25, 0.5, 0.75]
    # the other victim flips clips 1 and 3 only: clip 0 fits the 2 % budget but does not transfer
    assert [by["other", k].asr for k in (2, 5, 10)] == [0.0, 0.25, 0.5]
    # outside the budget a clip keeps its clean prediction: threat at 5 % predicts [1, 1, 1, 1] for labels [0, 0, 1, 1]
    assert [by["threat", k].robust_accuracy for k in (2, 5, 10)] == [0.75, 0.5, 0.25]
    assert [by["other", k].robust_accuracy for k in (2, 5, 10)] == [0.75, 1.0, 0.75]
    # x is measured on the threat model, so both victims share it
    assert [by[v, k].sparsity_pct for v in ("threat", "other") for k in (2, 5, 10)] == pytest.approx([1, 2, 4] * 2)
    assert all(p.n_clips == 4 and not p.point for p in points)


def test_a_stored_set_is_one_point_per_victim():
    victims = {
        "threat": _replay([0] * 4, [1] * 4, asr=0.75, adv_accuracy=0.25),
        "other": _replay([0] * 4, [0] * 4, asr=0.5),
    }
    adv = _stored_set([2.0, 4.0, 9.0, 6.0], [True, True, False, False], [0] * 4, mean=3.0)
    points = set_points(adv, victims, attacker="staa", point=True)
    assert [(p.victim, p.sparsity_pct, p.asr, p.robust_accuracy, p.budget, p.point) for p in points] == [
        ("threat", 3.0, 0.75, 0.25, None, True),
        ("other", 3.0, 0.5, 0.0, None, True),
    ]
    nothing_fooled = _stored_set([2.0, 4.0], [False, False], [0, 0], mean=None)
    (point,) = set_points(nothing_fooled, {"threat": _replay([0] * 2, [0] * 2)}, attacker="pgd", budget=5.0)
    assert point.sparsity_pct == 3.0 and point.budget == 5.0  # the mean over all clips when none fooled the threat


def test_only_budgeted_attacks_are_sweepable():
    assert [a for a in ("pgd", "pgd0", "sparse_rs", "universal", "sigma_zero", "fmn", "sparsefool", "onepixel", "staa")
            if sweepable(a)] == ["pgd", "pgd0", "sparse_rs", "universal"]  # fmt: skip


def _half(point: CurvePoint, key: str = "asr_ci") -> float:
    return getattr(point, key)["half_width"]


def test_intervals_collapse_where_every_clip_is_alike_and_are_those_of_the_per_clip_indicators():
    # 40 clips: 20 need 1 % of their samples, 20 need 8 %; the threat model's labels are its clean predictions
    n = 40
    adv = _stored_set([1.0] * 20 + [8.0] * 20, [True] * n, [0] * n, mean=4.5)
    victims = {"threat": _replay([0] * n, [1] * n)}
    low, high = minimum_norm_set_curve(adv, victims, [2, 10], attacker="sigma_zero")
    # at 10 % every clip is fooled: ASR 1 and robust accuracy 0, both intervals collapse to the point
    assert (low.asr, high.asr, high.robust_accuracy) == (0.5, 1.0, 0.0)
    assert high.asr_ci["low"] == high.asr_ci["high"] == 1.0 and _half(high) == 0.0
    assert high.robust_accuracy_ci["low"] == high.robust_accuracy_ci["high"] == 0.0
    # at 2 % half the clips: the interval contains 50 % and is about ±1.96·√(¼/40) ≈ ±15.5 points wide
    assert low.asr_ci["low"] < 0.5 < low.asr_ci["high"] and 0.10 < _half(low) < 0.21
    assert low.asr_ci["n"] == low.n_clips == n and low.asr_ci["value"] == low.asr
    # the same redraws as the rate of the per-clip indicator "within the budget and flipped"
    assert low.asr_ci == rate_interval([True] * 20 + [False] * 20).to_dict()
    assert low.robust_accuracy_ci == rate_interval([False] * 20 + [True] * 20).to_dict()


def test_stored_sets_and_live_sweeps_carry_intervals_from_the_victims_predictions(victims):
    adv = _stored_set([2.0, 4.0, 9.0, 6.0], [True] * 4, [0, 0, 1, 1], mean=3.0)
    replays = {"threat": _replay([0, 0, 1, 1], [1, 0, 1, 1], asr=0.25, adv_accuracy=0.75)}
    (point,) = set_points(adv, replays, attacker="staa", point=True)
    assert point.asr_ci == rate_interval([True, False, False, False]).to_dict()
    assert point.robust_accuracy_ci == rate_interval([False, True, True, True]).to_dict()
    x, labels = torch.zeros(4, N), torch.tensor([0, 0, 1, 1])
    swept = sweep(lambda k: FirstSamples(victims["threat"], k), [1, 10], x, victims, attacker="first", labels=labels)
    for p in swept:
        assert p.asr_ci["value"] == p.asr and p.robust_accuracy_ci["value"] == p.robust_accuracy
        assert p.asr_ci["low"] <= p.asr <= p.asr_ci["high"]
    (unlabelled,) = measure(FirstSamples(victims["threat"], 5), x, {"threat": victims["threat"]}, attacker="g")
    assert unlabelled.robust_accuracy_ci is None and unlabelled.asr_ci is not None
