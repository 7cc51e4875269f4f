"""``staa defense``: ``wrap`` writes a defended checkpoint that loads back through the model registry;
``evaluate`` writes the robust-accuracy table and checks attack specs before any work."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from staa.cli import app
from staa.defenses import Defended
from staa.errors import ConfigError
from staa.models import build_model, load_model


def test_wrap_writes_a_loadable_defended_checkpoint(tmp_path):
    build_model("emo18", num_classes=4, hidden=8).save_pretrained(tmp_path / "victim")
    result = CliRunner().invoke(
        app,
        [
            "defense",
            "wrap",
            str(tmp_path / "victim"),
            "--defense",
            "median:kernel=3+quantize:bits=8",
            "--out",
            str(tmp_path / "defended"),
            "--no-adaptive",
        ],
    )
    assert result.exit_code == 0, result.output
    model = load_model(tmp_path / "defended")
    assert isinstance(model, Defended) and not model.config.adaptive
    assert [d["name"] for d in model.config.defences] == ["median", "quantize"]  # the config.json key
    old_spelling = CliRunner().invoke(app, ["defense", "wrap", str(tmp_path / "victim"), "--defence", "median:kernel=3",
                                            "--out", str(tmp_path / "old")])  # fmt: skip
    assert old_spelling.exit_code == 0, old_spelling.output
    assert [d["name"] for d in load_model(tmp_path / "old").config.defences] == ["median"]
    assert model.predict(torch.rand(2, 4000) - 0.5).shape == (2,)


def test_unknown_defense_is_a_one_line_error(tmp_path):
    build_model("emo18", num_classes=4, hidden=8).save_pretrained(tmp_path / "victim")
    result = CliRunner().invoke(
        app, ["defense", "wrap", str(tmp_path / "victim"), "--defense", "mp3", "--out", str(tmp_path / "d")]
    )
    assert result.exit_code != 0
    assert "unknown defense 'mp3'" in str(result.exception)


def test_evaluate_writes_rows_per_defense_and_mode(tmp_path):
    build_model("emo18", num_classes=7, hidden=8).save_pretrained(tmp_path / "victim")
    options = ["--model", str(tmp_path / "victim"), "--defense", "median:kernel=3", "--attack", "pgd:k_percent=10,steps=2",
               "--cache", str(tmp_path / "cache"), "--seconds", "0.25", "--limit", "4", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, ["defense", "evaluate", *options, "--out", str(tmp_path / "robust")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "robust" / "robustness.json").read_text())
    rows = [(r["defence"], r["mode"]) for r in record["rows"]]
    assert rows == [("none", "non-adaptive"), ("median:kernel=3", "non-adaptive"), ("median:kernel=3", "adaptive")]
    assert record["n"] == 4 and record["split"] == "test"
    assert all(r["mean_sparsity_pct"] <= 10 for r in record["rows"])  # the spec's k_percent reached the attack
    assert (tmp_path / "robust" / "robustness.md").read_text() in result.output

    result = CliRunner().invoke(
        app, ["defense", "evaluate", *options, "--no-adaptive", "--out", str(tmp_path / "replay")]
    )
    assert result.exit_code == 0, result.output
    replay = json.loads((tmp_path / "replay" / "robustness.json").read_text())
    assert [r["mode"] for r in replay["rows"]] == ["non-adaptive", "non-adaptive"]


@pytest.mark.parametrize("spec", ["pgd:width=3", "staa:eps=0.05"])
def test_evaluate_refuses_an_attack_spec_before_any_work(tmp_path, spec):
    build_model("emo18", num_classes=7, hidden=8).save_pretrained(tmp_path / "victim")
    result = CliRunner().invoke(
        app, ["defense", "evaluate", "--model", str(tmp_path / "victim"), "--defense", "median:kernel=3", "--attack", spec,
              "--cache", str(tmp_path / "cache"), "--seconds", "0.25", "--out", str(tmp_path / "robust")],
    )  # fmt: skip
    assert isinstance(result.exception, ConfigError), result.output
    assert not (tmp_path / "robust").exists() and not (tmp_path / "cache").exists()
