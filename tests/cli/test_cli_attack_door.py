"""``staa attack NAME``: every registered attack, STAA-Net and the universal perturbation included, attacks a
WAV file, a folder or a corpus split with ``-o key=value`` options and writes one record format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from staa.attacks.registry import ATTACKS
from staa.audio import write_audio
from staa.cli import app
from staa.errors import ConfigError
from staa.models import build_model

runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(micro_corpus, write_manifest, tmp_path_factory) -> Path:
    """The micro corpus as WAVs with a CSV manifest, a folder of two clips of other lengths, an Emo18 checkpoint
    and a generator trained on it for 2 steps."""
    root = tmp_path_factory.mktemp("door")
    write_manifest(root)
    test = micro_corpus.split("test").waves
    write_audio(root / "clips" / "one.wav", np.asarray(test[0]))
    write_audio(root / "clips" / "sub" / "two.wav", np.concatenate([test[1], test[2][:1000]]))
    torch.manual_seed(0)
    build_model("emo18", num_classes=7, hidden=8).save_pretrained(root / "emo18")
    trained = invoke("generator", "train", "--threat", root / "emo18", "--corpus", root / "manifest.csv", "--cache",
                     root / "cache", "--seconds", "0.25", "--out", root / "gen", "--arch", "fast", "--steps", "2")  # fmt: skip
    assert trained.exit_code == 0, trained.output
    return root


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def attack(w: Path, name: str, out: Path, *args: object):
    return invoke("attack", name, "--model", w / "emo18", "--out", out, "--quiet", *args)


def records(out: Path) -> dict:
    return json.loads((out / "records.json").read_text())


def test_one_wav_file_is_attacked_into_records_and_a_wav(workspace: Path, tmp_path: Path):
    result = attack(workspace, "pgd", tmp_path / "pgd", "--input", workspace / "clips" / "one.wav",
                    "-o", "k_percent=5", "-o", "steps=3")  # fmt: skip
    assert result.exit_code == 0, result.output
    rec = records(tmp_path / "pgd")
    assert rec["attack"] == "pgd" and rec["n"] == 1 and rec["provenance"]["config"]["k_percent"] == 5
    audio, sr = sf.read(tmp_path / "pgd" / "wav" / "one.wav", dtype="float32")
    clean, _ = sf.read(workspace / "clips" / "one.wav", dtype="float32")
    assert sr == 16_000 and audio.shape == clean.shape
    assert np.count_nonzero(audio - clean) <= int(0.05 * len(clean))  # k_percent=5 of the clip's samples
    assert rec["examples"][0]["sparsity_pct"] <= 5


def test_a_folder_keeps_each_clip_and_its_length(workspace: Path, tmp_path: Path):
    result = attack(workspace, "zero", tmp_path / "zero", "--input", workspace / "clips")
    assert result.exit_code == 0, result.output
    rec = records(tmp_path / "zero")
    assert rec["n"] == 2 and [Path(e["path"]).name for e in rec["examples"]] == ["one.wav", "two.wav"]
    two, _ = sf.read(tmp_path / "zero" / "wav" / "sub" / "two.wav", dtype="float32")
    assert two.shape == (5000,) and rec["summary"]["asr_threat"] == 0.0


def test_staa_attacks_a_file_with_a_trained_generator(workspace: Path, tmp_path: Path):
    result = attack(workspace, "staa", tmp_path / "staa", "--generator", workspace / "gen" / "best",
                    "--input", workspace / "clips" / "one.wav")  # fmt: skip
    assert result.exit_code == 0, result.output
    rec = records(tmp_path / "staa")
    assert rec["attack"] == "staa" and rec["eps"] == 0.05 and not (tmp_path / "staa" / "result.json").exists()
    assert 0 < rec["examples"][0]["sparsity_pct"] <= 10.5  # the fast generator's top-k mask: 10 % of the samples
    split = attack(workspace, "staa", tmp_path / "split", "--generator", workspace / "gen" / "best", "--corpus",
                   workspace / "manifest.csv", "--cache", workspace / "cache", "--seconds", "0.25", "--limit", "2")  # fmt: skip
    assert split.exit_code == 0, split.output
    assert sorted(records(tmp_path / "split")) == sorted(rec) and records(tmp_path / "split")["n"] == 2
    missing = attack(workspace, "staa", tmp_path / "none", "--input", workspace / "clips" / "one.wav")
    assert missing.exit_code != 0 and "needs --generator" in str(missing.exception or missing.output)


def test_sparse_rs_takes_its_query_budget(workspace: Path, tmp_path: Path):
    result = attack(workspace, "sparse_rs", tmp_path / "rs", "--corpus", workspace / "manifest.csv", "--cache",
                    workspace / "cache", "--seconds", "0.25", "--limit", "2", "-o", "queries=20", "-o", "k_percent=5")  # fmt: skip
    assert result.exit_code == 0, result.output
    rec = records(tmp_path / "rs")
    assert rec["n"] == 2 and rec["provenance"]["config"]["queries"] == 20
    assert all(e["sparsity_pct"] <= 5 for e in rec["examples"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-o", "queries=5"], "no option 'queries' (options: "),
        (["-o", "steps=five"], "option 'steps' expects int"),
        (["-o", "steps"], "expected key=value"),
    ],
)
def test_a_bad_option_is_refused_naming_what_is_valid(workspace: Path, tmp_path: Path, options, message):
    result = attack(workspace, "pgd", tmp_path / "bad", "--input", workspace / "clips", *options)
    assert result.exit_code != 0 and isinstance(result.exception, ConfigError)
    assert message in str(result.exception)
    assert "k_percent" in str(result.exception) or "steps" in str(result.exception)
    assert not (tmp_path / "bad").exists()


def test_the_record_format_is_the_same_for_every_attack(workspace: Path, tmp_path: Path):
    """A saved universal δ, STAA-Net and two baselines on the same folder: the same keys at every level."""
    fit = invoke("attack", "universal", "--model", workspace / "emo18", "--corpus", workspace / "manifest.csv", "--cache",
                 workspace / "cache", "--seconds", "0.25", "--epochs", "1", "--limit", "1", "--out", tmp_path / "fit",
                 "--quiet")  # fmt: skip
    assert fit.exit_code == 0, fit.output
    runs = {
        "universal": ["--generator", tmp_path / "fit"],
        "staa": ["--generator", workspace / "gen" / "best"],
        "pgd0": ["-o", "k_percent=5", "-o", "steps=2"],
        "sigma_zero": ["-o", "steps=2"],
    }
    shapes = []
    for name, options in runs.items():
        result = attack(workspace, name, tmp_path / name, "--input", workspace / "clips", *options)
        assert result.exit_code == 0, result.output
        rec = records(tmp_path / name)
        assert rec["attack"] == name and rec["n"] == 2
        shapes.append((sorted(rec), sorted(rec["summary"]), sorted(rec["examples"][0])))
    assert all(shape == shapes[0] for shape in shapes)


def test_help_lists_every_public_attack_with_its_description():
    result = invoke("attack", "--help")
    assert result.exit_code == 0
    for name in ATTACKS:
        assert f" {name} " in result.output
    assert "staa_mask_control" not in result.output
    assert ATTACKS.description("sparse_rs")[:30] in " ".join(result.output.split())
