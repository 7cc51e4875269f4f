"""``staa attack``: ``run`` crafts on a prepared split and writes records with provenance and one WAV per
clip; ``universal`` fits, saves and applies one perturbation through that same path; ``targets`` measures
targeted success per class; ``sweep`` draws ASR against sparsity over budgets on every victim."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from staa.attacks.universal import UniversalPerturbation
from staa.cli import app
from staa.cli.common import prepared_corpus
from staa.data.synthetic import EMOTIONS
from staa.errors import ConfigError
from staa.models import Emo18, Emo18Config, load_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return Emo18(Emo18Config(num_classes=7, hidden=8)).save_pretrained(tmp_path_factory.mktemp("ckpt") / "emo18")


def invoke(*args: str, command: str = "run"):
    return CliRunner().invoke(app, ["attack", command, *args])


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One prepared synthetic corpus for the module's commands (preparing it is most of a command's time)."""
    return tmp_path_factory.mktemp("cache")


def common_options(cache, checkpoint) -> list[str]:
    return ["--model", str(checkpoint), "--cache", str(cache), "--seconds", "0.25", "--quiet"]


def test_sparse_pgd_run_writes_records_and_wavs(tmp_path, cache, checkpoint):
    out = tmp_path / "pgd"
    common = common_options(cache, checkpoint)
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


def test_eps_db_attacks_each_clip_under_its_own_peak_and_warns_when_audible(tmp_path, cache, checkpoint):
    common = [*common_options(cache, checkpoint), "--limit", "3", "--k-percent", "5", "--steps", "2"]
    result = invoke("pgd", *common, "--out", str(tmp_path / "quiet"), "--eps-db", "30")
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "quiet" / "records.json").read_text())
    assert records["eps"] is None and records["eps_db"] == 30
    assert all(e["eps_db"] == pytest.approx(30, abs=1e-3) for e in records["examples"])
    assert "warning" not in result.output
    loud = invoke("pgd", *common, "--out", str(tmp_path / "loud"), "--eps-db", "6")
    assert loud.exit_code == 0 and (json.loads((tmp_path / "loud" / "records.json").read_text())["summary"]["n_success"] == 0
                                    or "median SNR" in loud.output)  # fmt: skip
    both = invoke("pgd", *common, "--out", str(tmp_path / "both"), "--eps", "0.05", "--eps-db", "26")
    assert both.exit_code != 0 and "exactly one" in str(both.exception)


def test_targeted_run_needs_a_known_class_and_refuses_foreign_options(tmp_path, cache, checkpoint):
    common = common_options(cache, checkpoint) + ["--out", str(tmp_path / "out"), "--limit", "1"]
    for args in (["--targeted"], ["--targeted", "--target-class", "boredom"], ["--k-percent", "5"]):
        result = invoke("sparsefool", *common, *args)
        assert isinstance(result.exception, ConfigError), result.output
    assert not (tmp_path / "out" / "records.json").exists()


def test_universal_fits_saves_and_replays_through_attack_run(tmp_path, cache, checkpoint):
    common = common_options(cache, checkpoint)
    fit = ["--fit-limit", "8", "--epochs", "2", "--k-percent", "5", "--limit", "3", "--batch-size", "4"]
    result = invoke(*common, *fit, "--out", str(tmp_path / "uap"), command="universal")
    assert result.exit_code == 0, result.output
    saved = tmp_path / "uap" / "perturbation.safetensors"
    delta = UniversalPerturbation.from_file(load_model(checkpoint), saved).perturbation.numpy()
    assert delta.shape == (4000,) and np.count_nonzero(delta) == 200  # 5 % of 4000 samples, exactly
    assert np.abs(delta).max() <= 0.05 + 1e-6
    fit_record = json.loads((tmp_path / "uap" / "fit.json").read_text())
    assert len(fit_record["history"]) == 2 and fit_record["provenance"]["config"]["n"] == 8
    records = json.loads((tmp_path / "uap" / "records.json").read_text())
    assert records["attack"] == "universal" and records["n"] == 3
    assert records["provenance"]["config"]["perturbation"] == str(saved)
    clean = np.asarray(prepared_corpus("synthetic", None, cache, 0.25, True).split("test").waves[:3])
    x_adv = np.load(tmp_path / "uap" / "x_adv.npy")
    assert np.allclose(x_adv, np.clip(clean + delta, -1, 1), atol=1e-6)  # the same δ added to every clip
    assert len(list((tmp_path / "uap" / "wav").glob("*.wav"))) == 3

    replay_options = ["--perturbation", str(saved), "--limit", "3", "--out", str(tmp_path / "replay")]
    result = invoke("universal", *common, *replay_options)
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.load(tmp_path / "replay" / "x_adv.npy"), x_adv)
    replay = json.loads((tmp_path / "replay" / "records.json").read_text())
    assert replay["summary"]["asr_threat"] == records["summary"]["asr_threat"] and replay["eps"] == 0.05


def test_universal_needs_its_file_and_only_universal_takes_one(tmp_path, cache, checkpoint):
    common = common_options(cache, checkpoint) + ["--limit", "1", "--out", str(tmp_path / "out")]
    for name, extra, message in (
        ("universal", [], "needs --perturbation"),
        ("pgd", ["--perturbation", str(tmp_path / "none.safetensors")], "only to attack 'universal'"),
        ("universal", ["--perturbation", str(tmp_path / "none.safetensors")], "not found"),
    ):
        result = invoke(name, *common, *extra)
        assert result.exception is not None and message in str(result.exception), result.output
    assert not (tmp_path / "out" / "records.json").exists()


def test_targets_reports_success_per_class_by_name(tmp_path, cache):
    named = Emo18(Emo18Config(num_classes=7, hidden=8, class_names=list(EMOTIONS)))
    checkpoint = named.save_pretrained(tmp_path / "named")
    out = tmp_path / "targets"
    options = ["--limit", "4", "--k-percent", "10", "--steps", "3", "--out", str(out)]
    result = invoke("pgd", *common_options(cache, checkpoint), *options, command="targets")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "targeted.json").read_text())
    per_target = record["per_target"]
    assert list(per_target) == list(EMOTIONS) and record["n"] == 4
    # each clip is attacked towards every class but the one it is already predicted as
    assert sum(e["n"] for e in per_target.values()) == 4 * 6
    rates = [e["success_rate"] for e in per_target.values() if e["n"]]
    assert all(e["success_rate"] is None for e in per_target.values() if not e["n"])
    assert record["mean_success_rate"] == pytest.approx(np.mean(rates))
    successes = sum(round(e["success_rate"] * e["n"]) for e in per_target.values() if e["n"])
    assert record["overall_success_rate"] == pytest.approx(successes / 24)
    assert record["provenance"]["config"]["k_percent"] == 10
    table = (out / "targeted.md").read_text()
    assert all(f"| {name} |" in table for name in EMOTIONS) and "| overall | 24 |" in table
    assert table in result.output


def test_targets_refuses_universal_and_foreign_options(tmp_path, checkpoint):
    common = common_options(tmp_path / "cache", checkpoint) + ["--limit", "1", "--out", str(tmp_path / "out")]
    for name, extra in (("universal", []), ("sparsefool", ["--k-percent", "5"])):
        result = invoke(name, *common, *extra, command="targets")
        assert isinstance(result.exception, ConfigError), result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()  # refused before any work


@pytest.fixture(scope="module")
def other_victim(tmp_path_factory):
    """A second small Emo18 in a ``best/`` folder: the sweep names it after the parent, ``other``."""
    torch.manual_seed(1)
    return Emo18(Emo18Config(num_classes=7, hidden=8)).save_pretrained(
        tmp_path_factory.mktemp("victims") / "other" / "best"
    )


def test_sweep_crafts_each_budget_once_and_writes_the_curves(tmp_path, cache, checkpoint, other_victim):
    out = tmp_path / "sweep"
    args = ["pgd0", *common_options(cache, checkpoint), "--victim", str(other_victim), "--k-percent", "5",
            "--k-percent", "1", "--steps", "2", "--limit", "3", "--batch-size", "2", "--out", str(out)]  # fmt: skip
    result = invoke(*args, command="sweep")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "curves.csv").open()))
    assert [(r["budget"], r["victim"]) for r in rows] == [
        ("1.0", "emo18"),
        ("1.0", "other"),
        ("5.0", "emo18"),
        ("5.0", "other"),
    ]
    assert all(float(r["sparsity_pct"]) <= float(r["budget"]) and r["n_clips"] == "3" for r in rows)
    record = json.loads((out / "curves.json").read_text())
    assert record["attack"] == "pgd0" and record["budgets"] == [1.0, 5.0] and len(record["points"]) == 4
    for budget in ("k1", "k5"):
        replay = json.loads((out / budget / "victims" / "other.json").read_text())
        assert next(r for r in rows if f"k{float(r['budget']):g}" == budget and r["victim"] == "other")["asr"] == str(
            replay["asr"]
        )
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    crafted = (out / "k1" / "x_adv.npy").stat().st_mtime_ns
    assert invoke(*args, command="sweep").exit_code == 0
    assert (out / "k1" / "x_adv.npy").stat().st_mtime_ns == crafted  # a finished budget is reused, not crafted again


def test_a_minimum_norm_sweep_is_one_run_read_at_every_budget(tmp_path, cache, checkpoint):
    out = tmp_path / "sigma"
    budgets = ["--k-percent", "50", "--k-percent", "0.5", "--k-percent", "5"]
    result = invoke("sigma_zero", *common_options(cache, checkpoint), *budgets, "--steps", "5", "--limit", "3",
                    "--out", str(out), command="sweep")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["minimum-norm"]
    points = json.loads((out / "curves.json").read_text())["points"]
    assert [p["budget"] for p in points] == [0.5, 5.0, 50.0]
    assert [p["asr"] for p in points] == sorted(p["asr"] for p in points)
    records = json.loads((out / "minimum-norm" / "records.json").read_text())
    fooled = [e["sparsity_pct"] for e in records["examples"] if e["success"]]
    assert points[-1]["asr"] == sum(s <= 50 for s in fooled) / 3


def test_sweep_refuses_attacks_without_a_budget_and_bad_budgets(tmp_path, cache, checkpoint):
    common = [*common_options(cache, checkpoint), "--out", str(tmp_path / "out"), "--limit", "1"]
    for args in (
        ["onepixel", "--k-percent", "1"],
        ["universal", "--k-percent", "1"],
        ["pgd", "--k-percent", "1", "--k-percent", "1"],
        ["pgd", "--k-percent", "120"],
        ["pgd0", "--k-percent", "1", "--queries", "10"],
    ):
        result = invoke(*args, *common, command="sweep")
        assert isinstance(result.exception, ConfigError), result.output
    assert not (tmp_path / "out").exists()
