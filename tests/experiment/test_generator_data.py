"""An experiment's STAA-Net attacker trains on the speech its ``train.data`` lists, validated on the corpus, and
first distils from the attacker its ``train.teacher`` names."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from staa.errors import ConfigError
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


def teacher_context(micro_corpus, out, *overrides: str) -> ExperimentContext:
    short = "{preset: topk, steps: 2, dense_steps: 0, anneal_steps: 0}"
    fast = f"{{attack: staa, generator: {{preset: shallow}}, train: {short[:-1]}, teacher: staa, distil_steps: 3}}}}"
    config = load_config("demo", [f"attackers.staa.train={short}", f"attackers.fast={fast}", *overrides])
    threat = build_model("emo18", num_classes=7, hidden=8).eval()
    return ExperimentContext(config, out, "cpu", False, lambda _: None, corpus=micro_corpus, models={"emo18": threat})


def test_a_generator_with_a_teacher_trains_the_teachers_first_and_distils_from_it(micro_corpus, tmp_path) -> None:
    ctx = teacher_context(micro_corpus, tmp_path / "run")
    train_generator_for(ctx, "emo18", plan_of(ctx.config, "emo18", "fast"), None)
    folder = tmp_path / "run" / "generators" / "emo18"
    assert json.loads((folder / "staa" / "train.json").read_text())["steps"] == 2  # the teacher, trained first
    distilled = json.loads((folder / "fast" / "distilled" / "distil.json").read_text())
    assert distilled["teacher"] == str(folder / "staa" / "best") and distilled["steps"] == 3
    assert json.loads((folder / "fast" / "train.json").read_text())["steps"] == 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("attackers.fast.train.teacher=pgd", "'pgd' is no other STAA-Net attacker"),
        ("attackers.fast.train.teacher=staa_unet", "must train an adjoint generator"),
        ("attackers.fast.train.distil_steps=0", "distil_steps must be a positive integer"),
        ("attackers.staa.train.distil_steps=5", "distil_steps needs train.teacher"),
    ],
)
def test_a_teacher_that_cannot_teach_is_refused_before_any_training(micro_corpus, tmp_path, override, message) -> None:
    with pytest.raises(ConfigError, match=message):
        teacher_context(micro_corpus, tmp_path / "run", override)
