"""The generator-training wiring shared by the CLI and experiments: budgets checked up front, recorded."""

from __future__ import annotations

import json

import pytest

from staa.attacks.staa import GeneratorConfig, STAATrainConfig
from staa.attacks.staa.budget import SNRBudget, SparsityBudget
from staa.errors import ConfigError
from staa.models import build_model
from staa.training.generator import budget_controllers, budget_record, train_staa_generator


def test_budgets_become_their_controllers_with_the_options():
    (sparsity,) = budget_controllers(STAATrainConfig(), sparsity_pct=10, update="additive", lr=0.5)
    assert isinstance(sparsity, SparsityBudget) and (sparsity.target_pct, sparsity.update, sparsity.lr) == (10.0, "additive", 0.5)
    both = budget_controllers(STAATrainConfig(), sparsity_pct=10, snr_db=30)
    assert [type(b) for b in both] == [SparsityBudget, SNRBudget]
    assert budget_record(both[1]) == {"weight": "lambda_m", "metric": "val_snr_db", "target": 30.0,
                                      "update": "multiplicative", "lr": 1.0}  # fmt: skip
    assert budget_controllers(STAATrainConfig()) == []


@pytest.mark.parametrize(
    ("config", "budget", "message"),
    [
        (STAATrainConfig(no_sparsity=True), {"sparsity_pct": 10}, "ablation"),
        (STAATrainConfig(no_magnitude=True), {"snr_db": 30}, "ablation"),
        (STAATrainConfig(), {"sparsity_pct": 10, "momentum": 0.9}, "unknown options"),
        (STAATrainConfig(), {"sparsity_pct": 150}, "target sparsity"),
    ],
)
def test_impossible_budgets_are_refused_before_training(config, budget, message):
    with pytest.raises(ConfigError, match=message):
        budget_controllers(config, **budget)


def test_a_budgeted_run_records_what_was_asked_next_to_the_trainers_history(micro_corpus, tmp_path):
    threat = build_model("emo18", num_classes=7, hidden=8).eval()
    config = STAATrainConfig.preset("paper", epochs=1, batch_size=7, seed=2)
    budgets = budget_controllers(config, sparsity_pct=5)
    generator = GeneratorConfig.preset("fast", mask="threshold")  # a top-k mask needs no sparsity budget
    result = train_staa_generator(generator, config, [threat], micro_corpus, tmp_path, budgets=budgets, show_progress=False)
    written = json.loads((tmp_path / "train.json").read_text())
    assert written["budgets"] == result["budgets"] == [budget_record(budgets[0])]
    assert "lambda_s" in written["history"][0] and "budget_met" in written["history"][0] and (tmp_path / "best").exists()
    (only,) = written["history"]  # one validation, at the end of the pass
    assert only["clips_per_second"] == pytest.approx(len(micro_corpus.split("train")) / only["seconds"])
    assert written["clips_per_second"] == pytest.approx(only["clips_per_second"]) == result["clips_per_second"]
