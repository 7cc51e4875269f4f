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

import torch
import yaml

from staa.errors import ConfigError
from staa.experiment.context import ExperimentContext
from staa.experiment.plans import attacker_plans, needed_models
from staa.experiment.results import write_results_and_report
from staa.experiment.sections.budgets import budgets
from staa.experiment.sections.curves import curves
from staa.experiment.sections.robustness import robustness
from staa.experiment.sections.seeds import attack_seeds
from staa.experiment.sections.targeted import targeted
from staa.experiment.steps import attack_and_replay, prepare_corpus, train_ser_model
from staa.io.outputs import write_text
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
    if ctx.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{ctx.device}' requested but CUDA is not available")
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "experiment.yaml", yaml.safe_dump(config, sort_keys=False))
    with torch_threads(config["threads"]):  # None: as the process has them (`staa` sets them from --threads)
        return _steps(ctx)


def _steps(ctx: ExperimentContext) -> Path:
    """Every step in order, on the CPU threads the experiment asked for."""
    config = ctx.config
    seed_everything(ctx.seed)
    prepare_corpus(ctx)
    for name in needed_models(config):
        train_ser_model(ctx, name)
    rows = []
    for threat in config["threat_models"]:
        for plan in attacker_plans(config, threat):
            rows += attack_and_replay(ctx, threat, plan)
    sections = {"robustness": robustness(ctx), "targeted": targeted(ctx), "budgets": budgets(ctx), "curves": curves(ctx),
                "attack_seeds": attack_seeds(ctx, rows)}  # fmt: skip
    return write_results_and_report(ctx, rows, sections)
