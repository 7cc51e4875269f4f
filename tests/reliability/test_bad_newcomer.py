"""Category 8: what a newcomer ran into — silent logs, private files, help that misleads.

* Without a terminal (a log file, a batch job) progress is plain lines: one per epoch, per crafting run;
  a 1-epoch ``ser train`` used to print blank lines for minutes.
* Every output honours the umask (all files were 0600, from their atomic temporaries).
* Help: every option says what it is; ``--no-factorisation`` is a flag (not ``--no-no-factorisation``);
  ``--perceptual`` names its extra; ``--target-class`` takes a name or an index wherever it appears; the
  output WAVs' format is stated. ``staa --help`` loading no torch is tests/cli/test_cli_help.py.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys

import pytest
import typer
from typer.testing import CliRunner

from staa.cli import app
from staa.runtime.progress import logged


def test_training_without_a_terminal_logs_a_line_per_epoch(staa, micro, tmp_path):
    assert not sys.stderr.isatty()
    verbose = [a for a in micro if a != "--quiet"]
    ran = staa.succeeds(
        "ser", "train", "zhao19", "--out", tmp_path / "ser", "--epochs", "2", "--batch-size", "16", *verbose
    )
    epochs = [
        line for line in ran.lines if re.fullmatch(r"epoch \d/2: (\d+)/\1 clips done in \d+ s \([\d.]+ clips/s\)", line)
    ]
    assert len(epochs) == 2, ran.err
    assert "\x1b[" not in ran.err and "\r" not in ran.err  # no terminal control codes in a log file


def test_crafting_without_a_terminal_logs_its_chunks(staa, checkpoints, micro, tmp_path):
    verbose = [a for a in micro if a != "--quiet"]
    ran = staa.succeeds("attack", "run", "pgd", "--model", checkpoints / "emo18", "--out", tmp_path / "pgd", "--steps",
                        "1", "--batch-size", "2", *verbose)  # fmt: skip
    assert any(re.fullmatch(r"pgd: crafting: 4/4 done in \d+ s", line) for line in ran.lines), ran.err


def test_a_long_loop_logs_every_interval(capsys):
    assert list(logged(range(3), "work", 3, interval=0.0)) == [0, 1, 2]
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" in ")[0] for line in lines] == ["work: 1/3", "work: 2/3", "work: 3/3", "work: 3/3 done"]


def test_a_loop_over_batches_logs_clips_and_their_rate(capsys):
    assert list(logged(["a", "b"], "epoch 1/1", 7, interval=3600, sizes=[4, 3], unit="clips")) == ["a", "b"]
    (line,) = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"epoch 1/1: 7/7 clips done in \d+ s( \([\d.]+ clips/s\))?", line), line


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_outputs_honour_the_umask(mask, staa, micro, tmp_path):
    out = tmp_path / "ser"
    old = os.umask(mask)
    try:
        staa.succeeds("ser", "train", "zhao19", "--out", out, "--epochs", "1", "--batch-size", "16", *micro)
    finally:
        os.umask(old)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"model.safetensors", "config.json", "last.pt", "train.json", "spec.json"}
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask, p
    for p in [out, *(q for q in out.rglob("*") if q.is_dir())]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o777 & ~mask, p


def _commands() -> list[tuple[str, typer.core.TyperCommand]]:
    group = typer.main.get_command(app)
    out = []
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        out += [(f"{name} {s}", c) for s, c in sub.items()] if sub else [(name, command)]
    return out


@pytest.mark.parametrize("name, command", _commands(), ids=[n for n, _ in _commands()])
def test_every_option_says_what_it_is(name, command):
    """``--cache``, ``--seconds``, ``--root`` and others had no help at all."""
    silent = [p.name for p in command.params if not (getattr(p, "help", None) or "").strip()]
    assert silent == [], f"staa {name}: options without help: {silent}"


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "300", "NO_COLOR": "1", "TERM": "dumb"})
    assert result.exit_code == 0
    return " ".join(result.output.split())


def test_flags_and_extras_read_as_they_are_typed():
    text = _help("generator", "train")
    for flag in ("--no-factorisation", "--no-magnitude", "--no-sparsity", "--no-quantisation"):
        assert flag in text and f"--no{flag}" not in text
    assert "staa[perceptual]" in _help("attack", "run")


@pytest.mark.parametrize(
    "command", [("attack", "run"), ("attack", "universal"), ("generator", "train"), ("generator", "apply")]
)
def test_target_class_is_a_name_or_an_index_everywhere(command):
    assert re.search(r"--target-class <str> [^│]*name or index", _help(*command)), _help(*command)


def test_the_output_wav_format_is_stated():
    assert "16 kHz mono 32-bit float" in _help("generator", "apply")
    assert "16 kHz mono 32-bit float" in _help("attack", "run")


def test_target_class_by_name_and_by_index_gives_the_same_run(staa, checkpoints, micro, tmp_path):
    apply = ["generator", "apply", checkpoints / "gen", "--model", checkpoints / "emo18", *micro]
    staa.succeeds(*apply, "--out", tmp_path / "by-name", "--target-class", "fear")
    staa.succeeds(*apply, "--out", tmp_path / "by-index", "--target-class", "2")
    first, second = (json.loads((tmp_path / d / "result.json").read_text()) for d in ("by-name", "by-index"))
    assert first["provenance"]["config"]["target_class"] == second["provenance"]["config"]["target_class"] == 2
    train = ["generator", "train", "--threat", checkpoints / "emo18", "--epochs", "1", "--targeted", *micro]
    staa.succeeds(*train, "--out", tmp_path / "gen", "--target-class", "fear")
    assert json.loads((tmp_path / "gen" / "train.json").read_text())["train_config"]["target_class"] == 2
