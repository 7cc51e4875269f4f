"""``staa run EXPERIMENT --out DIR``: a whole experiment from a YAML file or a built-in name.

A single command, registered on the main app with ``app.command`` (not a sub-group: a group's usage
line would promise a ``COMMAND [ARGS]`` that does not exist).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from staa.cli.common import checked_device


def run(
    experiment: str = typer.Argument(
        ...,
        help="built-in experiment (demo, emodb, emodb-pooled, ravdess, ravdess-pooled, nemo, demos, iemocap) or a YAML file",
    ),
    out: Path = typer.Option(..., help="output folder; rerunning into it skips finished steps and resumes"),
    set_: list[str] = typer.Option(
        [], "--set", help="override a config key, e.g. --set attackers.pgd.settings.steps=5"
    ),
    device: str = typer.Option(None, help="cpu, cuda, cuda:1 (default: the experiment's)", callback=checked_device),
    overwrite: bool = typer.Option(
        False, help="start every step over instead of resuming (or refusing other settings)"
    ),
    quiet: bool = typer.Option(False, help="no progress bars, progress lines or step messages"),
) -> None:
    """Prepare the corpus, train or reuse SER models and generators, attack, evaluate transfer, write the report."""
    from staa.cli import common
    from staa.cli.common import asked_threads
    from staa.experiment import load_config, run_experiment
    from staa.io.outputs import writable_folder

    writable_folder(out)
    common.current_out = out  # named by the line a Ctrl-C prints
    threads = [] if asked_threads is None else [f"threads={asked_threads}"]  # staa --threads N run ...
    config = load_config(experiment, [*set_, *threads])
    log = (lambda _: None) if quiet else typer.echo
    report = run_experiment(config, out, device=device, show_progress=not quiet, log=log, overwrite=overwrite)
    from staa.cli.common import audible_warning

    for row in json.loads((report.parent / "results.json").read_text())["readings"]["audible"]:
        audible_warning(f"{row['label']} on {row['threat']} ({row['split']})", row["snr_db_median"])
    typer.echo(f"report: {report.resolve()}")
