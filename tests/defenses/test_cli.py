"""``staa defense wrap`` writes a defended checkpoint that loads back through the model registry."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

from staa.cli import app
from staa.defenses import Defended
from staa.models import build_model, load_model


def test_wrap_writes_a_loadable_defended_checkpoint(tmp_path):
    build_model("emo18", num_classes=4, hidden=8).save_pretrained(tmp_path / "victim")
    result = CliRunner().invoke(
        app,
        ["defense", "wrap", str(tmp_path / "victim"), "--defence", "median:kernel=3+quantize:bits=8",
         "--out", str(tmp_path / "defended"), "--no-adaptive"],
    )
    assert result.exit_code == 0, result.output
    model = load_model(tmp_path / "defended")
    assert isinstance(model, Defended) and not model.config.adaptive
    assert [d["name"] for d in model.config.defences] == ["median", "quantize"]
    assert model.predict(torch.rand(2, 4000) - 0.5).shape == (2,)


def test_unknown_defence_is_a_one_line_error(tmp_path):
    build_model("emo18", num_classes=4, hidden=8).save_pretrained(tmp_path / "victim")
    result = CliRunner().invoke(
        app, ["defense", "wrap", str(tmp_path / "victim"), "--defence", "mp3", "--out", str(tmp_path / "d")]
    )
    assert result.exit_code != 0
    assert "unknown defence 'mp3'" in str(result.exception)
