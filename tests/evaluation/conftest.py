"""A small hand-written ``results.json`` dict for the table and report tests."""

from __future__ import annotations

from typing import Any

import pytest


def _row(threat: str, attacker: str, label: str, group: str, split: str, attack: str, **values: Any) -> dict[str, Any]:
    row = {
        "threat": threat, "attacker": attacker, "attack": attack, "label": label, "group": group, "split": split,
        "targeted": False, "target": None, "adversarial_set": f"adversarial/{threat}/{attacker}/{split}",
        "n": 10, "n_success": 5, "snr_db": 17.25, "snr_excluded": {"zero_perturbation": 0, "silent": 0},
        "sparsity_pct": 12.5, "seconds_per_example": 0.0123,
        "pesq": {"mean": 4.21, "n": 5, "n_failed": 0, "reasons": {}}, "stoi": None,
        "asr": {"emo18": 0.8271, "zhao19": 0.5},
        "correct_to_wrong": {"emo18": 0.9, "zhao19": None},
        "clean_accuracy": {"emo18": 0.7, "zhao19": 0.6}, "adv_accuracy": {"emo18": 0.1, "zhao19": 0.3},
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
            _row("emo18", "zero", "No attack (δ = 0)", "control", split, "zero", n_success=0, snr_db=None,
                 sparsity_pct=None, pesq=None, asr={"emo18": 0.0, "zhao19": 0.0}),
            _row("emo18", "no_mag", "w/o magnitude loss", "ablation", split, "staa", sparsity_pct=0.0),
        ]
    rows.append(_row("zhao19", "pgd", "PGD", "comparison", "test", "pgd", asr={"emo18": 0.25, "zhao19": 1.0}))
    return {
        "schema_version": 1,
        "experiment": "unit",
        "provenance": {"staa": "0.1.0", "torch": "2.13.0", "git_commit": None, "created": "2026-01-01T00:00:00+00:00",
                       "seed": 0, "cuda": None, "processor": "x86_64"},
        "corpus": {"name": "toy_corpus", "classes": ["a", "b"], "sample_rate": 16000, "length": 16000, "seconds": 1.0,
                   "splits": {"train": 10, "val": 10, "test": 10}},
        "eps": 0.05,
        "splits": ["val", "test"],
        "threat_models": ["emo18", "zhao19"],
        "victims": ["emo18", "zhao19"],
        "models": {
            "emo18": {"label": "Emo18", "arch": "emo18", "checkpoint": "models/emo18/best", "parameters": 1,
                      "splits": {"val": {"n": 10, "accuracy": 0.7818, "uar": 0.7739}, "test": {"n": 10, "accuracy": 0.7931, "uar": 0.788}}},
            "zhao19": {"label": "Zhao19", "arch": "zhao19", "checkpoint": "models/zhao19/best", "parameters": 1,
                       "splits": {"val": {"n": 10, "accuracy": 0.764, "uar": 0.7571}, "test": {"n": 10, "accuracy": 0.7239, "uar": 0.721}}},
        },
        "attacks": rows,
        "examples": [],
    }
