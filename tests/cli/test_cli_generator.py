"""``staa generator train`` and ``staa generator apply`` end to end on a handful of WAV files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from staa.attacks.staa import Generator, GeneratorConfig
from staa.audio import write_audio
from staa.cli import app
from staa.errors import ConfigError
from staa.models import build_model

runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(write_manifest, tmp_path_factory) -> Path:
    """WAVs of the micro corpus with a CSV manifest, and an (untrained) Emo18 checkpoint."""
    root = tmp_path_factory.mktemp("cli")
    write_manifest(root)
    torch.manual_seed(0)
    build_model("emo18", num_classes=7, hidden=8).save_pretrained(root / "emo18")
    return root


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_train_then_apply_to_a_split_and_to_a_folder(workspace: Path) -> None:
    w = workspace
    result = invoke(
        "generator", "train", "--threat", w / "emo18", "--corpus", w / "manifest.csv", "--cache", w / "cache",
        "--seconds", "0.25", "--out", w / "gen", "--arch", "fast", "--epochs", "1", "--lr", "1e-3", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "validation ASR" in result.output
    train = json.loads((w / "gen" / "train.json").read_text())
    assert train["train_config"]["lr"] == 1e-3 and train["train_config"]["lambda_s"] == 0  # the topk preset's
    assert len(train["history"]) == 1 and train["history"][0]["val_sparsity_all"] == pytest.approx(10, abs=0.5)

    result = invoke(
        "generator", "apply", w / "gen" / "best", "--model", w / "emo18", "--corpus", w / "manifest.csv",
        "--cache", w / "cache", "--seconds", "0.25", "--split", "test", "--out", w / "adv", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((w / "adv" / "result.json").read_text())
    assert record["summary"]["n"] == 7 and len(record["examples"]) == 7
    assert record["provenance"]["config"]["eps"] == 0.05
    first = record["examples"][0]
    audio, sr = sf.read(w / "adv" / "wav" / f"{first['name']}.wav", dtype="float32")
    assert sr == 16_000 and audio.shape == (4000,) and np.abs(audio).max() <= 1.0
    assert {"success", "snr_db", "sparsity_pct", "seconds", "clean_pred", "adv_pred"} <= set(first)
    # the summary of every crafted set (docs/results-schema.md), whichever command made it
    summary = record["summary"]
    assert set(summary) == {
        "n",
        "n_success",
        "asr_threat",
        "snr_db",
        "snr_db_median",
        "snr_excluded",
        "sparsity_pct",
        "seconds_per_example",
    }
    assert summary["asr_threat"] == pytest.approx(np.mean([e["success"] for e in record["examples"]]))
    assert summary["n_success"] == sum(e["success"] for e in record["examples"])
    fooled = [e["sparsity_pct"] for e in record["examples"] if e["success"]]
    assert summary["sparsity_pct"] == (pytest.approx(np.mean(fooled)) if fooled else None)

    # a folder of clips of different lengths: each keeps its own length
    (w / "mixed").mkdir()
    write_audio(w / "mixed" / "short.wav", np.asarray(sf.read(w / "wavs" / "test_00.wav")[0][:3001]))
    write_audio(w / "mixed" / "sub" / "long.wav", np.asarray(sf.read(w / "wavs" / "test_01.wav")[0]))
    result = invoke(
        "generator", "apply", w / "gen" / "best", "--model", w / "emo18", "--input-dir", w / "mixed",
        "--out", w / "adv2", "--eps", "0.01", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((w / "adv2" / "result.json").read_text())
    assert [e["name"] for e in record["examples"]] == ["short", "sub/long"]
    assert [e["samples"] for e in record["examples"]] == [3001, 4000]
    adv = sf.read(w / "adv2" / "wav" / "short.wav", dtype="float32")[0]
    clean = sf.read(w / "mixed" / "short.wav", dtype="float32")[0]
    assert adv.shape == clean.shape and np.abs(adv - clean).max() <= 0.01 + 1e-6


def test_apply_needs_exactly_one_source(workspace: Path) -> None:
    base = ["generator", "apply", str(workspace / "gen"), "--model", str(workspace / "emo18"), "--out", "unused"]
    for extra in ([], ["--corpus", "synthetic", "--input-dir", str(workspace / "wavs")]):
        result = runner.invoke(app, base + extra)
        assert isinstance(result.exception, ConfigError) and "exactly one" in str(result.exception)


def test_realtime_architecture_trains_and_is_saved_folded(workspace: Path) -> None:
    w = workspace
    result = invoke(
        "generator", "train", "--threat", w / "emo18", "--corpus", w / "manifest.csv", "--cache", w / "cache",
        "--seconds", "0.25", "--out", w / "gen-rt", "--arch", "realtime", "--steps", "4", "--dense-steps", "1",
        "--anneal-steps", "1", "--sparsity-pct", "5", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (last,) = json.loads((w / "gen-rt" / "train.json").read_text())["history"]  # one validation, at the end
    assert last["step"] == 4 and last["sparsity_budget_pct"] == 5 and last["budget_met"]
    assert last["val_sparsity_all"] == pytest.approx(5, abs=0.3)  # a top-k mask: the budget by construction
    config = json.loads((w / "gen-rt" / "best" / "config.json").read_text())
    assert (config["fold"], config["norm"], config["features"], config["levels"]) == (2, "gn", 8, 4)


def test_adjoint_architecture_trains_for_its_threat_and_records_the_front_end(workspace: Path) -> None:
    w = workspace
    result = invoke(
        "generator", "train", "--threat", w / "emo18", "--corpus", w / "manifest.csv", "--cache", w / "cache",
        "--seconds", "0.25", "--out", w / "gen-adj", "--arch", "adjoint", "--steps", "4", "--dense-steps", "1",
        "--anneal-steps", "1", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (last,) = json.loads((w / "gen-adj" / "train.json").read_text())["history"]
    assert last["val_sparsity_all"] == pytest.approx(10, abs=0.3)
    config = json.loads((w / "gen-adj" / "best" / "config.json").read_text())
    threat = json.loads((w / "emo18" / "config.json").read_text())
    assert config["architecture"] == "adjoint" and config["front"] == threat  # the threat's own front end


def test_shallow_architecture_distils_from_an_adjoint_teacher(workspace: Path) -> None:
    """--arch shallow --teacher DIR: the context first learns the teacher's map (distilled/), then trains."""
    w = workspace
    common = ["generator", "train", "--threat", w / "emo18", "--corpus", w / "manifest.csv", "--cache", w / "cache",
              "--seconds", "0.25", "--steps", "2", "--dense-steps", "1", "--anneal-steps", "1", "--quiet"]  # fmt: skip
    assert invoke(*common, "--out", w / "teacher", "--arch", "adjoint").exit_code == 0
    result = invoke(*common, "--out", w / "gen-shallow", "--arch", "shallow", "--teacher", w / "teacher" / "best",
                    "--distil-steps", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    distilled = json.loads((w / "gen-shallow" / "distilled" / "distil.json").read_text())
    assert distilled["steps"] == 2 and distilled["teacher"] == str(w / "teacher" / "best")
    assert json.loads((w / "gen-shallow" / "best" / "config.json").read_text())["architecture"] == "shallow-adjoint"
    Generator(GeneratorConfig.fast()).save_pretrained(w / "unet")
    with pytest.raises(ConfigError, match="adjoint-family"):  # a Wave-U-Net has no sample map to learn
        invoke(*common, "--out", w / "gen-bad", "--arch", "shallow", "--teacher", w / "unet")


def test_checkpointing_and_micro_batches_reach_the_trainer_and_keep_the_weights(workspace: Path) -> None:
    """--checkpointing --micro-batch change memory, not the step: same seed, same trained weights."""
    w = workspace
    common = ["generator", "train", "--threat", w / "emo18", "--corpus", w / "manifest.csv", "--cache", w / "cache",
              "--seconds", "0.25", "--arch", "fast", "--epochs", "1", "--quiet"]  # fmt: skip
    assert invoke(*common, "--out", w / "plain").exit_code == 0
    result = invoke(*common, "--out", w / "lean", "--checkpointing", "--micro-batch", "3")
    assert result.exit_code == 0, result.output
    config = json.loads((w / "lean" / "train.json").read_text())["train_config"]
    assert config["checkpointing"] is True and config["micro_batch"] == 3
    from safetensors.torch import load_file

    plain, lean = (load_file(w / d / "last" / "model.safetensors") for d in ("plain", "lean"))
    assert plain.keys() == lean.keys()
    for k in plain:
        torch.testing.assert_close(lean[k], plain[k], rtol=1e-4, atol=1e-5)


def test_sparsity_budget_moves_lambda_s_towards_the_budget(workspace: Path) -> None:
    """A budget below the measured sparsity raises λ_s (multiplicative rule); one above it lowers λ_s (additive)."""
    w = workspace
    common = ["generator", "train", "--threat", w / "emo18", "--corpus", w / "manifest.csv", "--cache", w / "cache",
              "--seconds", "0.25", "--arch", "fast", "--mask", "threshold", "--noise-channels", "0", "--preset",
              "paper", "--lr", "1e-3", "--quiet"]  # fmt: skip
    result = invoke(*common, "--out", w / "tight", "--epochs", "2", "--budget-sparsity", "1")
    assert result.exit_code == 0, result.output
    train = json.loads((w / "tight" / "train.json").read_text())
    first, second = train["history"]
    assert first["val_sparsity_all"] > 1  # an untrained generator perturbs far more than 1 % of the samples
    # dual ascent on log λ_s after each validation: λ ← λ · measured / target (lr 1, at most 10×); the history
    # records the weights each stretch of training used, so the second validation shows the raised λ_s
    assert first["lambda_s"] == 1e-4
    assert second["lambda_s"] == pytest.approx(1e-4 * min(10.0, first["val_sparsity_all"] / 1))
    assert train["budgets"] == [{"weight": "lambda_s", "metric": "val_sparsity_all", "target": 1.0,
                                 "update": "multiplicative", "lr": 1.0}]  # fmt: skip
    achieved = f"achieved {second['val_sparsity_all']:.2f} %"
    assert "budget sparsity 1.00 %" in result.output and achieved in result.output

    result = invoke(*common, "--out", w / "loose", "--epochs", "1", "--budget-sparsity", "99",
                    "--budget-snr", "90", "--budget-update", "additive")  # fmt: skip
    assert result.exit_code == 0, result.output
    train = json.loads((w / "loose" / "train.json").read_text())
    (only,) = train["history"]
    assert not only["budget_met"]  # 90 dB SNR is beyond reach
    assert [b["weight"] for b in train["budgets"]] == [
        "lambda_s",
        "lambda_m",
    ] and "budget SNR 90.00 dB" in result.output


def test_budget_options_are_checked(workspace: Path) -> None:
    base = ["generator", "train", "--threat", str(workspace / "emo18"), "--out", str(workspace / "unused")]
    for extra, message in (
        (["--budget-sparsity", "5", "--no-sparsity"], "ablation"),
        (["--budget-snr", "30", "--no-magnitude"], "ablation"),
        (["--budget-sparsity", "5", "--budget-update", "integral"], "update must be one of"),
        (["--budget-sparsity", "150"], "target sparsity"),  # the earlier name, still taken
        (["--budget-k-percent", "150"], "target sparsity"),
    ):
        result = runner.invoke(app, base + extra)
        assert isinstance(result.exception, ConfigError) and message in str(result.exception), result.output
    assert not (workspace / "unused").exists()


def test_data_trains_on_other_speech_and_never_on_the_scored_clips(workspace: Path) -> None:
    w = workspace
    rng = np.random.default_rng(1)
    (w / "other").mkdir()
    for i, rate in enumerate((44_100, 8_000, 24_000)):  # unlabelled speech at other rates
        sf.write(str(w / "other" / f"{i}.wav"), (0.1 * rng.standard_normal(rate // 4)).astype(np.float32), rate)
    base = ["generator", "train", "--threat", w / "emo18", "--corpus", w / "manifest.csv", "--cache", w / "cache",
            "--seconds", "0.25", "--arch", "fast", "--steps", "2", "--quiet"]  # fmt: skip
    result = invoke(*base, "--out", w / "gen-data", "--data", "train", "--data", w / "other")
    assert result.exit_code == 0, result.output
    train = json.loads((w / "gen-data" / "train.json").read_text())
    pool = Path(train["provenance"]["config"]["corpus"])
    assert pool.name.startswith("speech-") and pool.parent == w / "cache"
    sources = json.loads((pool / "manifest.json").read_text())["sources"]
    assert sources == {"train": 7, str(w / "other"): 3}

    for data, message in ((w / "wavs", "validation or test clips"), ("emodb:", "training data folder not found")):
        result = runner.invoke(app, [str(a) for a in (*base, "--out", w / "refused", "--data", data)])
        assert message in str(result.exception) and "\n" not in str(result.exception), result.output
    assert not (w / "refused").exists()
    result = runner.invoke(app, [str(a) for a in (*base, "--out", w / "refused", "--data", "train", "--data", "train")])
    assert isinstance(result.exception, ConfigError) and "listed twice" in str(result.exception)
