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
    assert isinstance(sparsity, SparsityBudget) and (sparsity.target_pct, sparsity.update, sparsity.lr) == (
        10.0,
        "additive",
        0.5,
    )
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
    result = train_staa_generator(
        generator, config, [threat], micro_corpus, tmp_path, budgets=budgets, show_progress=False
    )
    written = json.loads((tmp_path / "train.json").read_text())
    assert written["budgets"] == result["budgets"] == [budget_record(budgets[0])]
    assert (
        "lambda_s" in written["history"][0] and "budget_met" in written["history"][0] and (tmp_path / "best").exists()
    )
    (only,) = written["history"]  # one validation, at the end of the pass
    assert only["clips_per_second"] == pytest.approx(len(micro_corpus.split("train")) / only["seconds"])
    assert written["clips_per_second"] == pytest.approx(only["clips_per_second"]) == result["clips_per_second"]


def test_a_generator_trains_on_a_folder_of_unlabelled_speech_at_other_rates(micro_corpus, tmp_path):
    import numpy as np
    import soundfile as sf

    from staa.data.speech import NO_LABEL, parse_sources, pooled_speech

    rng = np.random.default_rng(0)
    (tmp_path / "speech").mkdir()
    for i, rate in enumerate((8_000, 24_000, 44_100, 48_000, 22_050)):
        sf.write(
            str(tmp_path / "speech" / f"{i}.wav"), (0.1 * rng.standard_normal(int(0.3 * rate))).astype(np.float32), rate
        )
    pool = pooled_speech(
        parse_sources([str(tmp_path / "speech")]), micro_corpus, tmp_path / "cache", show_progress=False
    )
    assert pool.split("train").labels.tolist() == [NO_LABEL] * 5  # no labels: the threat's predictions are used
    threat = build_model("emo18", num_classes=7, hidden=8).eval()
    config = STAATrainConfig.preset("topk", steps=2, eval_every=2, dense_steps=0, anneal_steps=0, batch_size=4,
                                    augment={"mix_prob": 1.0, "speed": 0.1})  # fmt: skip
    result = train_staa_generator(
        GeneratorConfig.preset("fast"), config, [threat], pool, tmp_path / "gen", show_progress=False
    )
    (only,) = result["history"]
    assert result["steps"] == only["step"] == 2 and (tmp_path / "gen" / "best").exists()
    # the 2 steps are one pass over the 5 pooled clips (batches of 4 and 1), not over the corpus's 7 training clips
    assert len(micro_corpus.split("train")) != 5 and only["clips_per_second"] == pytest.approx(5 / only["seconds"])
    assert result["provenance"]["config"]["corpus"] == str(
        pool.path
    )  # trained on the pool, validated on the corpus's val
    spec = json.loads((tmp_path / "gen" / "spec.json").read_text())
    assert pool.path.name in json.dumps(spec)


def test_settings_added_later_are_claimed_only_when_asked_so_older_folders_are_still_reused(micro_corpus, tmp_path):
    threat = build_model("emo18", num_classes=7, hidden=8).eval()
    generator = GeneratorConfig.preset("fast")
    plain = STAATrainConfig.preset("topk", steps=1, dense_steps=0, anneal_steps=0, batch_size=4)
    train_staa_generator(generator, plain, [threat], micro_corpus, tmp_path / "a", show_progress=False)
    claim = json.loads((tmp_path / "a" / "spec.json").read_text())["train"]
    assert "val_examples" not in claim and "focus" not in claim and claim["kappa"] == 0.5
    drawn = STAATrainConfig.preset("topk", steps=1, dense_steps=0, anneal_steps=0, batch_size=4, val_examples=3,
                                   focus=0.5)  # fmt: skip
    result = train_staa_generator(generator, drawn, [threat], micro_corpus, tmp_path / "b", show_progress=False)
    claim = json.loads((tmp_path / "b" / "spec.json").read_text())["train"]
    assert claim["val_examples"] == 3 and claim["focus"] == 0.5
    assert result["history"][-1]["val_n"] == 3
    with pytest.raises(ConfigError, match="other settings"):  # the same folder asked with another draw
        train_staa_generator(generator, plain, [threat], micro_corpus, tmp_path / "b", show_progress=False)
