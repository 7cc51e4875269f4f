"""Curves: a budget sweep gives the ASR and measured sparsity a hand-built victim implies, per victim;
one minimum-norm run gives the same curve; stored crafted sets give the same points on every victim; the
CSV round-trips and the figure is a PNG."""

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
    points = sweep(lambda k: FirstSamples(victims["threat"], k), [10, 1, 2, 5], x, victims, attacker="first", labels=labels)
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
    points = [
        CurvePoint("pgd0", "emo18", 1.0, 0.9, 0.25, 49, 0.5),
        CurvePoint("pgd0", "emo18", 10.0, 9.8, 0.75, 49, 0.25),
        CurvePoint("STAA-Net", "emo18", None, 3.3, 0.6, 49, None, True),
    ]
    rows = list(csv.DictReader(write_csv(points, tmp_path / "curves.csv").open()))
    assert [r["attacker"] for r in rows] == ["pgd0", "pgd0", "STAA-Net"]
    assert rows[1]["asr"] == "0.75" and rows[2]["budget"] == "" and rows[2]["point"] == "True"
    png = plot(points, tmp_path / "curves.png", title="EmoDB")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _stored_set(sparsity: list[float], success: list[bool], labels: list[int], mean: float | None) -> AdversarialSet:
    """A crafted set as :class:`AdversarialSet` reads it back: per-clip records and the summary."""
    examples = [{"index": i, "sparsity_pct": s, "success": ok, "label": y}
                for i, (s, ok, y) in enumerate(zip(sparsity, success, labels))]  # fmt: skip
    records = {"examples": examples, "summary": {"sparsity_pct": mean}}
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
    victims = {"threat": _replay([0] * 4, [1] * 4, asr=0.75, adv_accuracy=0.25), "other": _replay([0] * 4, [0] * 4, asr=0.5)}
    adv = _stored_set([2.0, 4.0, 9.0, 6.0], [True, True, False, False], [0] * 4, mean=3.0)
    points = set_points(adv, victims, attacker="staa", point=True)
    assert [(p.victim, p.sparsity_pct, p.asr, p.robust_accuracy, p.budget, p.point) for p in points] == [
        ("threat", 3.0, 0.75, 0.25, None, True), ("other", 3.0, 0.5, 0.0, None, True)]
    nothing_fooled = _stored_set([2.0, 4.0], [False, False], [0, 0], mean=None)
    (point,) = set_points(nothing_fooled, {"threat": victims["threat"]}, attacker="pgd", budget=5.0)
    assert point.sparsity_pct == 3.0 and point.budget == 5.0  # the mean over all clips when none fooled the threat


def test_only_budgeted_attacks_are_sweepable():
    assert [a for a in ("pgd", "pgd0", "sparse_rs", "universal", "sigma_zero", "fmn", "sparsefool", "onepixel", "staa")
            if sweepable(a)] == ["pgd", "pgd0", "sparse_rs", "universal"]  # fmt: skip
