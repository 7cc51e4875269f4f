"""Shared fixtures of the evaluation tests: hand-made models, attack and clips whose outcomes are known
(adversarial-set and transfer tests), a tiny real victim (robustness and targeted tests), and a small
hand-written ``results.json`` dict (table and report tests).

:class:`SignModel` predicts class 1 when the first sample is positive and class 0 otherwise (it skips
the usual standardisation, so raw amplitudes decide). :class:`StepAttack` adds ±ε to the first ``k``
samples, towards the other class, so which clips flip, their δ, SNR and sparsity are known in advance.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from staa.attacks.base import Attack
from staa.data.cache import PreparedCorpus
from staa.evaluation.adversarial_set import AdversarialSet, craft_adversarial_set
from staa.models import build_model
from staa.models.base import SERConfig, SERModel

EPS, K, N = 0.05, 100, 2_000


class SignModel(SERModel):
    def __init__(self) -> None:
        super().__init__(SERConfig(num_classes=2))
        self.scale = nn.Parameter(torch.tensor(100.0))

    def forward(self, waveform: Tensor) -> Tensor:
        x0 = waveform[:, 0]
        return torch.stack([-self.scale * x0, self.scale * x0], 1)


class ConstantModel(SERModel):
    """Always class 0, whatever the input: no attack can flip it."""

    def __init__(self) -> None:
        super().__init__(SERConfig(num_classes=2))
        self.bias = nn.Parameter(torch.tensor([1.0, 0.0]))

    def forward(self, waveform: Tensor) -> Tensor:
        return self.bias.expand(len(waveform), 2) + 0 * waveform[:, :1]


class StepAttack(Attack):
    """δ = ±ε on the first ``k`` samples: + when it moves towards class 1, − towards class 0."""

    name = "step"

    def __init__(self, model: nn.Module, eps: float, k: int, **kwargs) -> None:
        super().__init__(model, eps, **kwargs)
        self.k = k
        self.calls = 0

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        self.calls += 1
        up = labels == 1 if self.targeted else labels == 0
        sign = torch.where(up, 1.0, -1.0)[:, None]
        x_adv = x.clone()
        x_adv[:, : self.k] += sign * self.eps
        return x_adv


@pytest.fixture
def hand_waves() -> tuple[np.ndarray, np.ndarray]:
    """Five clips of N samples with known fates under StepAttack(ε = 0.05, k = 100) on SignModel.

    row 0: x₀ = 0.03, peak 0.5 → flips (0.03 − 0.05 < 0); SNR = 20·log10(0.5/0.05) = 20 dB
    row 1: x₀ = 0.5 → stays class 1
    row 2: x₀ = −0.2 → stays class 0 (−0.2 + 0.05 < 0)
    row 3: silent clip → class 0, flips to class 1 (x₀ = +0.05); its SNR is undefined (NaN)
    row 4: x₀ = −0.01, peak 0.25 → flips; SNR = 20·log10(0.25/0.05) ≈ 13.98 dB
    Labels (ground truth): 1, 1, 1, 0, 0.
    """
    rng = np.random.default_rng(0)
    waves = (0.01 * rng.standard_normal((5, N))).astype(np.float32)
    waves[3] = 0.0
    waves[0, 0], waves[0, 500] = 0.03, 0.5
    waves[1, 0] = 0.5
    waves[2, 0] = -0.2
    waves[4, 0], waves[4, 700] = -0.01, 0.25
    return waves, np.array([1, 1, 1, 0, 0])


@pytest.fixture
def hand_made() -> SimpleNamespace:
    """The hand-made classes and sizes (``SignModel``, ``ConstantModel``, ``StepAttack``, ``EPS``, ``K``, ``N``),
    ``step(**options)`` (a StepAttack(ε = EPS, k = K) on a SignModel) and ``craft(folder, waves, labels, attack,
    **options)`` (every row crafted into ``folder/adv``, no perceptual scores)."""

    def craft(folder: Path, waves: np.ndarray, labels: np.ndarray, attack: Attack, **options: Any) -> AdversarialSet:
        return craft_adversarial_set(
            attack, waves, labels, np.arange(len(waves)), folder / "adv", perceptual=False, **options
        )

    return SimpleNamespace(SignModel=SignModel, ConstantModel=ConstantModel, StepAttack=StepAttack, EPS=EPS, K=K, N=N,
                           step=lambda **options: StepAttack(SignModel(), EPS, K, **options), craft=craft)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_victim(tiny_corpus: PreparedCorpus) -> tuple[SERModel, torch.Tensor, torch.Tensor]:
    """An untrained Emo18 on the tiny corpus's classes and its first 8 test clips with their labels."""
    torch.manual_seed(0)
    victim = build_model("emo18", num_classes=7, class_names=list(tiny_corpus.classes), hidden=64).eval()
    test = tiny_corpus.split("test")
    return victim, torch.from_numpy(test.waves[:8].copy()), torch.from_numpy(test.labels[:8])


def _row(threat: str, attacker: str, label: str, group: str, split: str, attack: str, **values: Any) -> dict[str, Any]:
    row = {
        "threat": threat,
        "attacker": attacker,
        "attack": attack,
        "label": label,
        "group": group,
        "split": split,
        "targeted": False,
        "target": None,
        "adversarial_set": f"adversarial/{threat}/{attacker}/{split}",
        "n": 10,
        "n_success": 5,
        "snr_db": 17.25,
        "snr_excluded": {"zero_perturbation": 0, "silent": 0},
        "sparsity_pct": 12.5,
        "seconds_per_example": 0.0123,
        "pesq": {"mean": 4.21, "n": 5, "n_failed": 0, "reasons": {}},
        "stoi": None,
        "asr": {"emo18": 0.8271, "zhao19": 0.5},
        "correct_to_wrong": {"emo18": 0.9, "zhao19": None},
        "clean_accuracy": {"emo18": 0.7, "zhao19": 0.6},
        "adv_accuracy": {"emo18": 0.1, "zhao19": 0.3},
    }
    row.update(values)
    return row


@pytest.fixture
def fake_results() -> dict[str, Any]:
    rows = []
    for split in ("val", "test"):
        rows += [
            _row("emo18", "pgd", "PGD", "comparison", split, "pgd", seconds_per_example=1.234),
            _row("emo18", "staa", "STAA-Net", "comparison", split, "staa"),
            _row(
                "emo18",
                "zero",
                "No attack (δ = 0)",
                "control",
                split,
                "zero",
                n_success=0,
                snr_db=None,
                sparsity_pct=None,
                pesq=None,
                asr={"emo18": 0.0, "zhao19": 0.0},
            ),
            _row("emo18", "no_mag", "w/o magnitude loss", "ablation", split, "staa", sparsity_pct=0.0),
        ]
    rows.append(_row("zhao19", "pgd", "PGD", "comparison", "test", "pgd", asr={"emo18": 0.25, "zhao19": 1.0}))
    return {
        "schema_version": 1,
        "experiment": "unit",
        "provenance": {
            "staa": "0.1.0",
            "torch": "2.13.0",
            "git_commit": None,
            "created": "2026-01-01T00:00:00+00:00",
            "seed": 0,
            "cuda": None,
            "processor": "x86_64",
        },
        "corpus": {
            "name": "toy_corpus",
            "classes": ["a", "b"],
            "sample_rate": 16000,
            "length": 16000,
            "seconds": 1.0,
            "splits": {"train": 10, "val": 10, "test": 10},
        },
        "eps": 0.05,
        "splits": ["val", "test"],
        "threat_models": ["emo18", "zhao19"],
        "victims": ["emo18", "zhao19"],
        "models": {
            "emo18": {
                "label": "Emo18",
                "arch": "emo18",
                "checkpoint": "models/emo18/best",
                "parameters": 1,
                "splits": {
                    "val": {"n": 10, "accuracy": 0.7818, "uar": 0.7739},
                    "test": {"n": 10, "accuracy": 0.7931, "uar": 0.788},
                },
            },
            "zhao19": {
                "label": "Zhao19",
                "arch": "zhao19",
                "checkpoint": "models/zhao19/best",
                "parameters": 1,
                "splits": {
                    "val": {"n": 10, "accuracy": 0.764, "uar": 0.7571},
                    "test": {"n": 10, "accuracy": 0.7239, "uar": 0.721},
                },
            },
        },
        "attacks": rows,
        "examples": [],
    }


def _curve_point(
    attacker: str,
    label: str,
    kind: str,
    victim: str,
    budget: float | None,
    sparsity: float,
    asr: float,
    robust: float | None,
) -> dict[str, Any]:
    return {
        "threat": "emo18",
        "attacker": attacker,
        "victim": victim,
        "budget": budget,
        "sparsity_pct": sparsity,
        "asr": asr,
        "n_clips": 10,
        "robust_accuracy": robust,
        "point": kind == "point",
        "label": label,
        "attack": attacker,
        "kind": kind,
        "adversarial_set": f"adversarial/emo18/{attacker}/test",
    }


@pytest.fixture
def fake_curves() -> dict[str, Any]:
    """A hand-written ``curves`` section: PGD swept over two budgets and STAA-Net's point, on Emo18."""
    return {
        "split": "test",
        "budgets": [1.0, 10.0],
        "minimum_norm_readings": [1.0, 10.0, 100.0],
        "points": [
            _curve_point("pgd", "PGD", "sweep", "emo18", 1.0, 0.98, 0.3, 0.6),
            _curve_point("pgd", "PGD", "sweep", "emo18", 10.0, 9.97, 0.9, 0.1),
            _curve_point("staa", "STAA-Net", "point", "emo18", None, 12.5, 0.8271, None),
        ],
    }
