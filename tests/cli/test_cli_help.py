"""``--help`` is instant: the CLI imports the library inside its commands, so help loads no torch."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "scipy", "matplotlib")
HELPS = [[], ["data", "prepare"], ["ser", "train"], ["ser", "evaluate"], ["generator", "train"], ["generator", "apply"],
         ["attack", "run"], ["attack", "universal"], ["attack", "targets"], ["attack", "pgd"], ["attack", "staa"], ["defense", "wrap"],
         ["defense", "evaluate"], ["defense", "adv-train"], ["run"]]  # fmt: skip

PROBE = """
import json, sys
from typer.testing import CliRunner
from staa.cli import app
codes = [CliRunner().invoke(app, [*args, "--help"]).exit_code for args in json.loads(sys.argv[1])]
print(json.dumps({"codes": codes, "loaded": [m for m in json.loads(sys.argv[2]) if m in sys.modules]}))
"""


def test_every_help_screen_loads_no_heavy_dependency():
    """One fresh interpreter shows every help screen, then reports which heavy modules got imported."""
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(HELPS), json.dumps(HEAVY)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    report = json.loads(out.stdout)
    assert report["codes"] == [0] * len(HELPS)
    assert report["loaded"] == []


def test_module_entry_point_help_loads_no_torch():
    """``python -m staa.cli --help`` (the torchrun entry point), read from the interpreter's import log."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "staa.cli", "--help"], capture_output=True, text=True
    )
    imported = {
        line.rpartition("|")[2].strip().split(".")[0]
        for line in out.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert out.returncode == 0 and "Usage" in out.stdout and "typer" in imported
    assert not imported & set(HEAVY)


def test_python_dash_m_staa_is_the_command_and_its_help_loads_no_torch():
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "staa", "attack", "--help"], capture_output=True, text=True
    )
    imported = {
        line.rpartition("|")[2].strip().split(".")[0]
        for line in out.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert out.returncode == 0 and "sparse_rs" in out.stdout and not imported & set(HEAVY)
