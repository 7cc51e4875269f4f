"""A person at the terminal: Ctrl-C ends with status 130 and one line saying what stays and how to go on;
a long attack reports progress while it queries; a class the experiment names that the corpus lacks is
refused before any model is trained."""

from __future__ import annotations

import signal
import subprocess
import time
from unittest import mock

import pytest
import torch

from staa.attacks.registry import build_attack
from staa.models import build_model
from staa.runtime import progress

from .conftest import TINY_EXPERIMENT, StaaCLI


def test_ctrl_c_says_what_stays_and_how_to_resume(staa, tiny_experiment, tmp_path):
    """The issue's case: Ctrl-C exited 130 and printed nothing."""
    out = tmp_path / "out"
    with mock.patch("staa.experiment.runner._steps", side_effect=KeyboardInterrupt):
        ran = staa("run", tiny_experiment, "--out", out, "--quiet")
    assert ran.code == 130
    assert len(ran.lines) == 1 and "Traceback" not in ran.err, ran.err
    assert (
        ran.lines[0].startswith("aborted: ")
        and str(out) in ran.lines[0]
        and "run the same command again" in ran.lines[0]
    )
    staa.succeeds("run", tiny_experiment, "--out", out, "--quiet")  # the lock went with the interrupted run


def test_a_real_interrupt(tiny_experiment, tmp_path):
    """SIGINT to a `staa run` at work: status 130 and the aborted line (as a terminal's Ctrl-C sends it)."""
    out = tmp_path / "out"
    proc = StaaCLI().start("run", str(tiny_experiment), "--out", str(out))
    while not (out / "experiment.yaml").exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    if proc.returncode == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert proc.returncode == 130, err.decode()[-2000:]
    assert err.decode().strip().splitlines()[-1].startswith("aborted: ")


def test_a_long_attack_reports_its_queries(capsys, monkeypatch):
    """The issue's case: `staa attack sweep sparse_rs` ran 192 s on 2 clips without a line."""
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)  # a line per query instead of one per 10 s
    torch.manual_seed(0)
    model = build_model("emo18", num_classes=7, hidden=8).eval()
    attack = build_attack("sparse_rs", model, eps=0.05, k_percent=1, queries=5)
    for _ in progress.progress([0], "sparse_rs: crafting"):
        attack(torch.randn(2, 4000) * 0.1)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sparse_rs: queries on 2 clips")]
    assert lines, "no progress line inside the attack"
    attack(torch.randn(2, 4000) * 0.1)  # outside a shown loop (--quiet): silent
    assert "queries" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "section, fragment",
    [
        ("targeted: {attackers: [pgd], classes: [joy]}", "targeted.classes: ['joy'] are not classes"),
        ("", "attacker 'pgd': target 'joy' is not a class"),
    ],
    ids=["targeted section", "targeted attacker"],
)
def test_unknown_target_classes_are_refused_before_any_training(section, fragment, staa, tmp_path):
    """The issue's case: an unknown target class was reported only after training and every attack."""
    text = TINY_EXPERIMENT + section + "\n"
    if not section:
        text = text.replace("{attack: pgd, settings:", "{attack: pgd, target: joy, settings:")
    path, out = tmp_path / "e.yaml", tmp_path / "out"
    path.write_text(text)
    staa.refuses(["run", path, "--out", out, "--quiet"], fragment)
    assert not (out / "models").exists(), "no model was trained"
