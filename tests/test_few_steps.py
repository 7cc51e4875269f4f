"""research/few_steps.py: untrained guided generators and sparse PGD counted per clip, whatever the chunking."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from staa.models import build_model


@pytest.fixture(scope="module")
def few(research_script):
    return research_script("few_steps")


def test_a_row_counts_the_clips_whose_class_changed(few):
    r = few.row("sparse PGD", 2, clean=[0, 1, 2, 3], adv=[0, 2, 2, 1])
    assert (r["fooled"], r["clips"], r["asr"]) == (2, 4, 0.5)
    assert r["low"] <= 0.5 <= r["high"]
    assert few.table([r]).splitlines()[-1].startswith("| sparse PGD | 2 | 2 of 4 | 50.0 (")


def test_untrained_guided_stages_do_not_depend_on_the_chunk(few, micro_corpus):
    torch.manual_seed(0)
    threat = build_model("emo18", num_classes=7, class_names=list(micro_corpus.classes), hidden=8).eval()
    with torch.no_grad():  # a head whose class depends on the clip
        threat.head.linear.weight.mul_(50.0)
    x = few.test_clips(micro_corpus, None)
    assert len(x) == len(micro_corpus.split("test"))
    assert len(few.test_clips(micro_corpus, 3)) == 3
    rows = []
    for chunk in (1, len(x)):
        args = argparse.Namespace(eps_db=26.0, k_percent=10.0, chunk=chunk)
        rows.append([few.untrained_guided(threat, x, stages, args)["fooled"] for stages in (1, 2)])
    assert rows[0] == rows[1]
    assert np.all(np.array(rows[0]) <= len(x))
