"""``staa attack run``: crafts on a prepared split, writes records with provenance and one WAV per clip."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
from typer.testing import CliRunner

from staa.cli import app
from staa.errors import ConfigError
from staa.models import Emo18, Emo18Config


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return Emo18(Emo18Config(num_classes=7, hidden=8)).save_pretrained(tmp_path_factory.mktemp("ckpt") / "emo18")


def invoke(*args: str):
    return CliRunner().invoke(app, ["attack", "run", *args])


def test_sparse_pgd_run_writes_records_and_wavs(tmp_path, checkpoint):
    out = tmp_path / "pgd"
    common = ["--model", str(checkpoint), "--cache", str(tmp_path / "cache"), "--seconds", "0.25", "--quiet"]
    options = ["--limit", "3", "--k-percent", "5", "--steps", "2", "--batch-size", "2"]
    result = invoke("pgd", *common, "--out", str(out), *options)
    assert result.exit_code == 0, result.output
    records = json.loads((out / "records.json").read_text())
    assert records["attack"] == "pgd" and records["n"] == 3
    assert records["provenance"]["config"]["k_percent"] == 5
    assert all(e["sparsity_pct"] <= 5 for e in records["examples"])
    assert 0 <= records["summary"]["asr_threat"] <= 1
    wavs = sorted((out / "wav").glob("*.wav"))
    assert len(wavs) == 3
    audio, rate = sf.read(wavs[0], dtype="float32")
    assert rate == 16_000 and len(audio) == 4000


def test_targeted_run_needs_a_known_class_and_refuses_foreign_options(tmp_path, checkpoint):
    common = ["--model", str(checkpoint), "--cache", str(tmp_path / "cache"), "--seconds", "0.25", "--quiet"]
    common += ["--out", str(tmp_path / "out"), "--limit", "1"]
    for args in (["--targeted"], ["--targeted", "--target-class", "boredom"], ["--k-percent", "5"]):
        result = invoke("sparsefool", *common, *args)
        assert isinstance(result.exception, ConfigError), result.output
    assert not (tmp_path / "out" / "records.json").exists()
