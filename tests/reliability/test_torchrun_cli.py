"""``torchrun --nproc-per-node 2 -m staa.cli ser ...``: one result file, one report, the same evaluation."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from staa.data.cache import PreparedCorpus
from staa.models import load_model
from staa.training.ser import evaluate_ser

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "staa.cli"]


@pytest.mark.slow  # two torchrun launches of two processes each
def test_cli_train_and_evaluate_under_torchrun(wav_manifest, staa_cli, tmp_path):
    corpus = ["--corpus", str(wav_manifest), "--cache", str(tmp_path / "cache"), "--seconds", "0.25", "--quiet"]
    out = tmp_path / "out"

    def torchrun(*args: str) -> str:
        done = subprocess.run([*TORCHRUN, *args], capture_output=True, text=True, timeout=300, env=staa_cli.env)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    stdout = torchrun("ser", "train", "emo18", *corpus, "--out", str(out), "--epochs", "1", "--batch-size", "5")
    assert stdout.count("best validation UAR") == 1  # rank 0 reports, rank 1 stays quiet
    train = json.loads((out / "train.json").read_text())
    assert train["world_size"] == 2 and len(train["history"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["best", "last.pt", "spec.json", "train.json", "written.txt"]

    stdout = torchrun("ser", "evaluate", str(out / "best"), *corpus)
    assert stdout.count("test: UAR") == 1
    sharded = json.loads((out / "best" / "eval.json").read_text())["splits"]
    prepared = PreparedCorpus.load(next((tmp_path / "cache").iterdir()))
    model = load_model(out / "best")
    for split in ("val", "test"):
        one_process = json.loads(json.dumps(evaluate_ser(model, prepared.split(split))))
        assert (
            sharded[split]["n"] == one_process["n"] and sum(map(sum, sharded[split]["confusion"])) == one_process["n"]
        )
        # shards are other batches: logits may move by float noise, so a clip at a near tie may go either way
        with torch.no_grad():
            top2 = model.eval()(torch.from_numpy(np.array(prepared.split(split).waves))).topk(2, dim=1).values
        if bool((top2[:, 0] - top2[:, 1] > 1e-4).all()):
            assert sharded[split] == one_process
