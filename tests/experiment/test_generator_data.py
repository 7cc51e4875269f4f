"""An experiment's STAA-Net attacker trains on the speech its ``train.data`` lists, validated on the corpus."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from staa.experiment import load_config
from staa.experiment.context import ExperimentContext
from staa.experiment.plans import plan_of
from staa.experiment.steps import train_generator_for
from staa.models import build_model


def context(micro_corpus, out, data: str) -> ExperimentContext:
    config = load_config("demo", [f"attackers.staa.train.data={data}", "attackers.staa.train.steps=2",
                                  "attackers.staa.train.dense_steps=0", "attackers.staa.train.anneal_steps=0"])  # fmt: skip
    threat = build_model("emo18", num_classes=7, hidden=8).eval()
    return ExperimentContext(config, out, "cpu", False, lambda _: None, corpus=micro_corpus, models={"emo18": threat})


def test_the_generator_step_trains_on_the_listed_speech(micro_corpus, tmp_path) -> None:
    (tmp_path / "speech").mkdir()
    for i, rate in enumerate((8_000, 44_100, 24_000)):
        sf.write(
            str(tmp_path / "speech" / f"{i}.flac"), (0.1 * np.random.default_rng(i).standard_normal(rate // 2)), rate
        )
    ctx = context(micro_corpus, tmp_path / "run", f"[train, {tmp_path / 'speech'}]")
    train_generator_for(ctx, "emo18", plan_of(ctx.config, "emo18", "staa"), None)
    record = json.loads((tmp_path / "run" / "generators" / "emo18" / "staa" / "train.json").read_text())
    pool = json.loads(
        (micro_corpus.path.parent / record["provenance"]["config"]["corpus"] / "manifest.json").read_text()
    )
    assert pool["splits"]["train"]["count"] == len(micro_corpus.split("train")) + 3
    assert pool["base"] == micro_corpus.path.name and record["steps"] == 2
