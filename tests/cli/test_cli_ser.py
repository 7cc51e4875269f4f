"""``staa ser train``: the recipes by name (an unknown one refused before any work); a warm start by ``--init-from``."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from staa.cli import app
from staa.io.weights import fingerprint


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


def test_ser_train_init_from_starts_from_the_checkpoint_and_records_it(write_manifest, micro_corpus, tmp_path):
    from staa.models import build_model
    from staa.models.warm_start import warm_start
    from staa.runtime.reproducibility import seed_everything

    csv_path = write_manifest(tmp_path / "corpus")
    seed_everything(7)
    start = build_model("emo18", num_classes=3, class_names=["rage", "sadness", "neutral"])
    start.save_pretrained(tmp_path / "start")
    out = tmp_path / "ser"
    result = CliRunner().invoke(app, ["ser", "train", "emo18", "--corpus", str(csv_path), "--epochs", "1", "--quiet",
                                      "--init-from", str(tmp_path / "start"), "--out", str(out),
                                      "--cache", str(tmp_path / "cache")])  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = json.loads((out / "spec.json").read_text())
    assert spec["train"]["init_from"] == str(tmp_path / "start")
    # the claimed initial weights are the copied ones (the fresh rows of the other classes from seed 0)
    seed_everything(0)
    expected = build_model("emo18", num_classes=len(micro_corpus.classes), class_names=micro_corpus.classes)
    fresh = fingerprint(expected)
    assert warm_start(expected, tmp_path / "start") == [
        c for c in micro_corpus.classes if c not in ("sadness", "neutral")
    ]
    assert spec["initial_weights"] == fingerprint(expected) != fresh
