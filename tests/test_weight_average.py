"""research/weight_average.py: the averaged weights of the last epochs, and training on the validation speakers too."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from staa.models import build_model

RESEARCH = Path(__file__).resolve().parents[1] / "research"


@pytest.fixture(scope="module")
def wa(research_script):
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(RESEARCH))  # it imports its sibling ser_recipe
        yield research_script("weight_average")


def test_the_average_is_the_mean_of_the_snapshots_with_batch_norm_recomputed(wa, tiny_corpus, tmp_path):
    states = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        net = build_model("emo18", num_classes=len(tiny_corpus.classes), class_names=tiny_corpus.classes)
        states.append(net.state_dict())
        torch.save(net.state_dict(), tmp_path / f"{seed}.pt")
    avg = wa.averaged(tiny_corpus, "emo18", tmp_path, [2, 3], batch_size=8)
    got = avg.state_dict()
    weight = "cnn.0.weight"
    assert torch.allclose(got[weight], (states[1][weight] + states[2][weight]) / 2, atol=1e-6)
    assert not avg.training
    # batch-norm statistics come from the training clips under the averaged weights, not from a snapshot
    assert not torch.equal(got["cnn.1.running_var"], states[2]["cnn.1.running_var"])
    assert float(got["cnn.1.running_var"].min()) > 0


def test_train_on_val_adds_the_validation_clips_to_training_only(wa, tiny_corpus):
    pooled = wa.TrainOnVal(**asdict(tiny_corpus))
    train, val = tiny_corpus.split("train"), tiny_corpus.split("val")
    got = pooled.split("train")
    assert len(got) == len(train) + len(val)
    assert np.array_equal(got.labels, np.concatenate([train.labels, val.labels]))
    assert np.array_equal(got.waves[len(train) :], np.asarray(val.waves))
    assert len(pooled.split("val")) == len(val) and len(pooled.split("test")) == len(tiny_corpus.split("test"))
