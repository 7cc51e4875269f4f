"""Curves: a budget sweep gives the ASR and measured sparsity a hand-built victim implies, per victim;
one minimum-norm run gives the same curve; the CSV round-trips and the figure is a PNG."""

from __future__ import annotations

import csv

import pytest
import torch
from torch import Tensor, nn

from staa.attacks.base import Attack, AttackResult, SampleBudget
from staa.evaluation.curves import CurvePoint, measure, minimum_norm_curve, plot, sweep, write_csv
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
