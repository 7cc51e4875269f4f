"""research/ser_recipe.py: a variant compared, clip for clip, with a finished baseline read back from disk."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def sr(research_script):
    return research_script("ser_recipe")


def _record(labels: np.ndarray, right: int, seed: int) -> dict:
    """Predictions right on the first ``right`` clips of each split and wrong (the next class) elsewhere."""
    pred = labels.copy()
    pred[right:] = (labels[right:] + 1) % (labels.max() + 1)
    return {
        "val_pred": pred.tolist(),
        "test_pred": pred.tolist(),
        "train_config": {"seed": seed},
        "epochs_run": 3,
        "clips_per_second": 10.0,
    }


def test_a_finished_baseline_is_read_back_only_when_every_seed_finished(sr, tmp_path):
    for seed in (0, 1):
        folder = tmp_path / "emodb" / "emo18" / "small_corpus" / f"seed{seed}"
        folder.mkdir(parents=True)
        (folder / "eval.json").write_text(json.dumps({"seed": seed}))
    assert [r["seed"] for r in sr.finished(tmp_path, "emodb", "emo18", "small_corpus", [0, 1])] == [0, 1]
    assert sr.finished(tmp_path, "emodb", "emo18", "small_corpus", [0, 1, 2]) is None
    assert sr.finished(tmp_path, "emodb", "emo18", "today", [0]) is None


def test_the_gain_is_paired_against_the_named_baseline(sr, tiny_corpus, capsys):
    test = tiny_corpus.split("test").labels
    val = tiny_corpus.split("val").labels
    assert len(test) == len(val)  # one helper writes both splits' predictions
    n = len(test)
    runs = {
        ("tiny", "emo18", "small_corpus"): [_record(test, 0, s) for s in (0, 1)],
        ("tiny", "emo18", "pooled"): [_record(test, n, s) for s in (0, 1)],
    }
    sr.report(runs, {"tiny": tiny_corpus}, baseline="small_corpus")
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| tiny | emo18 | pooled | 2 |")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].split("|")[1:-1]]
    assert cells[4] == "100.0"  # val UAR mean
    assert cells[5].startswith("100.0 ± 0.0")
    # every clip right against every clip wrong: a gain of +100 points with no spread, above the half-width
    assert cells[7].startswith("+100.0 [+100.0, +100.0]")
    assert cells[8].startswith("yes")


def test_a_frozen_front_end_keeps_its_weights_and_statistics_while_the_head_trains(sr, tiny_corpus, tmp_path):
    from staa.models import build_model, load_model
    from staa.runtime.reproducibility import seed_everything

    cfg = sr.recipe_config("paper", "emo18", 0, {"epochs": 2})
    sr.run_one(tiny_corpus, "emo18", cfg, tmp_path / "free")
    sr.run_one(tiny_corpus, "emo18", cfg, tmp_path / "frozen", frozen_front_end=True)
    seed_everything(0)  # the initial weights run_one drew
    start = build_model("emo18", num_classes=len(tiny_corpus.classes), class_names=tiny_corpus.classes).state_dict()
    free, frozen = (load_model(tmp_path / name / "best").state_dict() for name in ("free", "frozen"))
    front = [k for k in start if k.startswith("cnn.") and not k.endswith("num_batches_tracked")]
    head = [k for k in start if k.startswith("head.")]
    assert any(k.endswith("running_mean") for k in front)  # batch-norm statistics are among them
    assert all(torch.equal(frozen[k], start[k]) for k in front)
    assert not all(torch.equal(free[k], start[k]) for k in front)  # the same training moves them when not frozen
    assert not all(torch.equal(frozen[k], start[k]) for k in head)
