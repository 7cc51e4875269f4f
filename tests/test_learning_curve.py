"""research/learning_curve.py: its training recipe is the shipped emodb experiment's, scaled by steps, and its
table summarises seeds as the uncertainty helpers do."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from staa.attacks.staa import Generator, GeneratorConfig, STAANet
from staa.experiment.config import load_config
from staa.experiment.plans import attacker_plans, train_config
from staa.models import build_model
from staa.uncertainty import spread


@pytest.fixture(scope="module")
def curve(research_script):
    return research_script("learning_curve")


def test_the_recipe_at_the_shipped_step_count_is_the_emodb_experiments(curve):
    config = load_config("emodb", ["corpus.root=/nowhere"])
    plan = next(p for p in attacker_plans(config, "emo18") if p.id == "staa")
    shipped, _ = train_config(plan, seed=3, target=None)
    assert asdict(curve.train_config(shipped.steps, seed=3)) == asdict(shipped)


def test_more_steps_scale_the_dense_start_and_the_annealing(curve):
    short, long = curve.train_config(400, seed=0), curve.train_config(1000, seed=0)
    assert long.steps == 1000
    assert long.dense_steps / long.steps == pytest.approx(short.dense_steps / short.steps)
    assert long.anneal_steps / long.steps == pytest.approx(short.anneal_steps / short.steps)
    assert long.augment == short.augment


def test_an_amount_names_its_sources(curve):
    assert curve.parse_amount("B=train,ravdess:/data/r") == ("B", ["train", "ravdess:/data/r"])
    for bad in ("B", "=train", "B="):
        with pytest.raises(argparse.ArgumentTypeError, match="NAME=SOURCE"):
            curve.parse_amount(bad)


def test_the_table_has_a_row_per_seed_and_the_mean_and_sd_over_seeds(curve):
    rows = [{"amount": "A", "clips": 10, "speakers": 2, "seed": s, "asr": a, "low": a - 0.1, "high": a + 0.1,
             "sparsity_pct": 10.0, "snr_db": 26.0, "val_asr": 0.5} for s, a in enumerate((0.5, 0.6, 0.7))]  # fmt: skip
    text = curve.table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + 3 + 1
    s = spread([50.0, 60.0, 70.0])
    assert f"{s.mean:.1f} ± {s.sd:.1f}" in lines[-1]
    assert "| A | 10 | 2 | 1 | 60.0 (50.0–70.0) |" in lines[3]


def test_active_share_counts_the_frames_near_the_clips_peak(curve):
    speech, silence = np.full(800, 0.5), np.full(800, 1e-4)
    waves = np.stack([np.concatenate([silence, speech]), np.concatenate([speech, speech])])
    assert curve.active_share(waves, frame=400).tolist() == [0.5, 1.0]
    assert curve.active_share(waves, frame=400, head=2).tolist() == [0.0, 1.0]
    assert curve.active_share(waves, frame=400, floor_db=100).tolist() == [1.0, 1.0]


def test_the_untrained_guided_generator_is_the_curves_zero_scored_once(curve, micro_corpus, tmp_path):
    threat = build_model("emo18", num_classes=7, class_names=list(micro_corpus.classes), hidden=8).eval()
    args = argparse.Namespace(out=tmp_path, arch="guided", eps_db=26.0, k_percent=10.0)
    row = curve.untrained(args, threat, micro_corpus)
    test = micro_corpus.split("test")
    x = torch.from_numpy(np.array(test.waves, dtype=np.float32))
    gen = Generator.for_config(GeneratorConfig.preset("guided", eps_db=26.0, k_percent=10.0), [threat]).eval()
    expected = STAANet(threat, gen)(x)  # one exact sparse gradient step: no training, no seed to depend on
    assert row["asr"] == pytest.approx(expected.success.float().mean().item())
    assert (row["amount"], row["clips"], row["val_asr"], row["test_clips"]) == ("untrained", 0, None, len(test))
    assert row["sparsity_pct"] == pytest.approx(10.0, abs=0.5)
    path = tmp_path / "untrained" / "score.json"
    record = json.loads(path.read_text())
    record["adv_pred"] = [(c + 1) % 7 for c in record["clean_pred"]]  # every clip fooled: read, not recomputed
    path.write_text(json.dumps(record))
    assert curve.untrained(args, threat, micro_corpus)["asr"] == 1.0
    line = curve.table([curve.untrained(args, threat, micro_corpus)]).splitlines()[2]
    assert line.startswith("| untrained | 0 | 0 | – | 100.0 (") and line.endswith("| – |")
