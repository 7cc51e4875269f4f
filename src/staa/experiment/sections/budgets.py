"""Budgeted sparsity in an experiment: ``attackers.<id>.train.budget`` and the ``budgets`` section.

``train: {preset: paper, budget: {k_percent: 10, update: multiplicative, lr: 1.0}}`` (or
``budget: {snr_db: 25}``) makes the generator's training adapt λ_s (λ_m) after every validation with
:mod:`staa.attacks.staa.budget`'s dual-ascent controllers (:func:`staa.training.generator.budget_controllers`,
the same wiring as ``staa generator train --budget-*``), instead of the paper's fixed weight.
:func:`budgets` reports, per budgeted generator, what the checkpoint the attack uses achieved on
validation and where λ went — the ``budgets`` section of ``results.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from staa.errors import ConfigError
from staa.experiment.context import ExperimentContext
from staa.experiment.plans import attacker_plans
from staa.training.generator import BUDGET_OPTIONS, BUDGETS, budget_spec


def validate_budget(aid: str, spec: Any, path: Path | str) -> None:
    """``attackers.<id>.train.budget``: exactly one of ``k_percent`` / ``snr_db``, plus controller options."""
    if spec is None:
        return
    spec = budget_spec(spec)
    where = f"attacker '{aid}': train.budget"
    kinds = set(spec) & set(BUDGETS) if isinstance(spec, dict) else set()
    if len(kinds) != 1 or set(spec) - set(BUDGETS) - set(BUDGET_OPTIONS):
        raise ConfigError(
            f"{where} needs exactly one of k_percent, snr_db (options: {', '.join(sorted(BUDGET_OPTIONS))})", path
        )


def budgets(ctx: ExperimentContext) -> list[dict[str, Any]]:
    """Per budgeted STAA-Net generator: the budget, what the selected checkpoint achieved on validation, and λ."""
    out = []
    for threat in ctx.config["threat_models"]:
        for plan in attacker_plans(ctx.config, threat):
            budget = budget_spec((plan.train or {}).get("budget")) if plan.trains_generator else None
            if not budget:
                continue
            trained = json.loads((ctx.out / "generators" / threat / plan.id / "train.json").read_text())
            history, best = trained["history"], trained["best"]
            chosen = next(h for h in reversed(history)
                          if (h["val_asr"], h["val_sparsity_all"]) == (best["val_asr"], best["val_sparsity_all"]))  # fmt: skip
            kind = next(k for k in BUDGETS if k in budget)
            weight, metric = ("lambda_s", "val_sparsity_all") if kind == "k_percent" else ("lambda_m", "val_snr_db")
            out.append(
                {
                    "threat": threat,
                    "attacker": plan.id,
                    "label": plan.label,
                    "budget": kind,
                    "target": float(budget[kind]),
                    "update": budget.get("update", "multiplicative"),
                    "steps": trained["steps"],
                    "best_step": chosen["step"],
                    "achieved": chosen[metric],
                    "val_asr": chosen["val_asr"],
                    "val_sparsity_pct": chosen["val_sparsity_all"],
                    "val_snr_db": chosen["val_snr_db"],
                    "weight": weight,
                    "initial_lambda": trained["train_config"][weight],
                    "lambda_at_best": chosen[weight],
                    "final_lambda": history[-1][weight],
                }
            )
    return out
