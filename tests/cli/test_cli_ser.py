"""``staa ser train --recipe``: the recipes by name; an unknown one is refused before any work."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from staa.cli import app


def test_ser_train_names_its_recipes():
    result = CliRunner().invoke(app, ["ser", "train", "--help"])
    assert result.exit_code == 0 and "small_corpus" in result.output and "--recipe" in result.output


def test_an_unknown_recipe_is_one_line_and_nothing_is_written(tmp_path):
    out = tmp_path / "ser"
    ran = subprocess.run([sys.executable, "-c", "from staa.cli import main; main()", "ser", "train", "zhao19",
                          "--recipe", "fast", "--out", str(out), "--cache", str(tmp_path / "cache")],
                         capture_output=True, text=True)  # fmt: skip
    assert ran.returncode == 2 and ran.stderr.strip().count("\n") == 0
    assert "unknown SER training recipe 'fast'" in ran.stderr and not (tmp_path / "cache").exists()
