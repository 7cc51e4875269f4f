"""A killed ``staa ser train`` resumes from its last finished epoch and ends with the same numbers.

The uninterrupted reference runs in-process (what the command does, step for step) to spare a process
start; the killed and resumed runs are real ``staa`` processes.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from staa.data.cache import prepare
from staa.data.registry import build_corpus
from staa.models import build_model
from staa.runtime.reproducibility import seed_everything
from staa.training.ser import TrainConfig, train_ser

EPOCHS, SEED, SECONDS = "3", "5", "0.25"


def _train_args(manifest: Path, cache: Path, out: Path) -> list[str]:
    return ["ser", "train", "emo18", "--corpus", str(manifest), "--cache", str(cache), "--out", str(out),
            "--epochs", EPOCHS, "--batch-size", "8", "--seed", SEED, "--seconds", SECONDS, "--quiet"]  # fmt: skip


def _train_in_process(manifest: Path, cache: Path, out: Path) -> None:
    """``staa ser train emo18`` with the options of :func:`_train_args`, called as a library."""
    corpus = prepare(build_corpus(str(manifest)), cache, seconds=float(SECONDS), show_progress=False)
    seed_everything(int(SEED))
    model = build_model("emo18", num_classes=len(corpus.classes), class_names=corpus.classes)
    train_ser(model, corpus, out, TrainConfig(int(EPOCHS), 1e-3, 8, int(SEED)), show_progress=False)


def _numbers(out: Path) -> list[tuple]:
    history = json.loads((out / "train.json").read_text())["history"]
    return [(h["epoch"], h["loss"], h["val_uar"], h["val_accuracy"]) for h in history]


def _kill_after_first_epoch(staa_cli, args: list[str], out: Path) -> None:
    proc = staa_cli.start(*args)
    deadline = time.monotonic() + 240
    while not (out / "last.pt").exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no epoch finished in time"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()


@pytest.mark.slow  # three CLI training runs in subprocesses, one of them killed
def test_killed_run_resumes_to_identical_numbers(wav_manifest, staa_cli, tmp_path):
    cache = tmp_path / "cache"
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _train_in_process(wav_manifest, cache, straight)

    _kill_after_first_epoch(staa_cli, _train_args(wav_manifest, cache, killed), killed)
    assert not (killed / "train.json").exists(), "the run finished before it was killed; the test proved nothing"

    resumed = staa_cli(*_train_args(wav_manifest, cache, killed))
    assert resumed.returncode == 0, resumed.stderr
    assert _numbers(killed) == _numbers(straight)
    assert len(_numbers(killed)) == int(EPOCHS)
    for name in ("model.safetensors", "config.json"):
        assert (killed / "best" / name).read_bytes() == (straight / "best" / name).read_bytes()
    assert not [p for p in killed.rglob(".*") if p.is_file()], "temporary files left behind"

    # Rerunning the finished run is a no-op: same numbers, same checkpoint bytes.
    weights = (killed / "best" / "model.safetensors").read_bytes()
    assert staa_cli(*_train_args(wav_manifest, cache, killed)).returncode == 0
    assert _numbers(killed) == _numbers(straight)
    assert (killed / "best" / "model.safetensors").read_bytes() == weights
