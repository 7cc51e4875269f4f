"""``staa run`` is one command: its help shows EXPERIMENT and options, no sub-command placeholder."""

from __future__ import annotations

from typer.testing import CliRunner

from staa.cli import app


def test_run_help_is_a_single_command():
    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0, result.output
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert usage.rstrip().endswith("run [OPTIONS] {experiment}")
    assert "COMMAND" not in result.output and "--out" in result.output
