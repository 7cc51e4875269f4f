"""Running an experiment: the order of its steps, from the prepared corpus to ``report.html``.

:func:`run_experiment` is the only function that knows the order; each step lives in
:mod:`~staa.experiment.steps`, each beyond-the-paper section in :mod:`~staa.experiment.sections`, and the
outputs are written by :mod:`~staa.experiment.results`. Nothing imports this module but the package.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from staa.experiment.context import ExperimentContext
from staa.experiment.plans import attacker_plans, needed_models
from staa.experiment.results import write_results_and_report
from staa.experiment.sections.budgets import budgets
from staa.experiment.sections.cross_corpus import cross_corpus
from staa.experiment.sections.curves import curves
from staa.experiment.sections.robustness import robustness
from staa.experiment.sections.seeds import attack_seeds
from staa.experiment.sections.targeted import check_classes, targeted
from staa.experiment.steps import attack_and_replay, prepare_corpus, train_ser_model
from staa.io.lock import folder_lock
from staa.io.outputs import write_text
from staa.runtime.device import check_device
from staa.runtime.reproducibility import seed_everything
from staa.runtime.threads import torch_threads


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_experiment(
    config: dict[str, Any],
    out_dir: str | Path,
    *,
    device: str | None = None,
    show_progress: bool = True,
    log: Callable[[str], None] = _stderr,
    overwrite: bool = False,
) -> Path:
    """Run (or finish) the experiment ``config`` (from :func:`~staa.experiment.config.load_config`) into
    ``out_dir``; return the path of ``report.html``. ``overwrite`` starts every step over instead of
    resuming or refusing outputs made with other settings."""
    out = Path(out_dir)
    ctx = ExperimentContext(config, out, device or config["device"], show_progress, log, overwrite)
    check_device(ctx.device)
    with folder_lock(out), torch_threads(config["threads"]):  # one run per folder; threads None: the process's
        write_text(out / "experiment.yaml", yaml.safe_dump(config, sort_keys=False))
        return _steps(ctx)


def _steps(ctx: ExperimentContext) -> Path:
    """Every step in order, on the CPU threads the experiment asked for."""
    config = ctx.config
    seed_everything(ctx.seed)
    prepare_corpus(ctx)
    check_classes(ctx)  # the classes the file names exist: known now, before any training
    for name in needed_models(config):
        train_ser_model(ctx, name)
    rows = []
    for threat in config["threat_models"]:
        for plan in attacker_plans(config, threat):
            rows += attack_and_replay(ctx, threat, plan)
    sections = {"robustness": robustness(ctx), "targeted": targeted(ctx), "budgets": budgets(ctx), "curves": curves(ctx),
                "attack_seeds": attack_seeds(ctx, rows), "cross_corpus": cross_corpus(ctx)}  # fmt: skip
    return write_results_and_report(ctx, rows, sections)
