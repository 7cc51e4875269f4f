"""Success versus sparsity in an experiment: ``attackers.<id>.sweep`` and the ``curves`` section.

``sweep: {k_percent: [1, 2, 5, 10, 20]}`` on an attacker entry crafts that attacker once more per
budget — its own settings with ``k_percent`` set to the budget — on the experiment's last split (the
"Test" column), under ``adversarial/<threat>/<attacker>/sweep/k<budget>/<split>/`` (a universal
perturbation is fitted per budget under ``generators/<threat>/<attacker>/sweep/k<budget>/``). Each swept
set is crafted and replayed like every other (claimed folder, resumable chunks, victims cached), so a
killed run resumes at the first unfinished budget; a budget equal to the attacker's own setting is the
attack table's set itself, not crafted twice.

The section, present when an attacker is swept or is a minimum-norm attack, puts every comparison
attacker of the experiment on the same axes (ASR on each victim against the sparsity measured on the
clips that fooled the threat model, with robust accuracy), from the crafted sets alone:

* ``sweep`` — a swept attacker, one point per budget (:func:`staa.evaluation.curves.set_points`);
* ``minimum_norm`` — σ-zero / FMN, the whole curve from the attack table's set, read at every swept
  budget ((1, 2, 5, 10, 20) when none is swept) and at 100 %, where it is the attack table's operating
  point (:func:`staa.evaluation.curves.minimum_norm_set_curve`);
* ``point`` — everything else, at the one sparsity it chose: STAA-Net generators (trained at one budget
  each), SparseFool, One-Pixel, unswept budgeted attacks.

Targeted attackers (their ASR means reaching a class) and the δ = 0 controls are left out.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from staa.attacks.registry import ATTACKS
from staa.errors import ConfigError
from staa.evaluation.adversarial_set import AdversarialSet
from staa.evaluation.curves import CurvePoint, minimum_norm, minimum_norm_set_curve, set_points, sweepable
from staa.evaluation.transfer import evaluate_victim
from staa.experiment.context import ExperimentContext
from staa.experiment.plans import AttackerPlan, attacker_plans
from staa.experiment.steps import build_attack_for

DEFAULT_BUDGETS = (1.0, 2.0, 5.0, 10.0, 20.0)  # where a minimum-norm curve is read when nothing is swept
WHOLE = 100.0  # a minimum-norm curve's last reading: every clip it fooled, the attack table's point
BUDGET_KEYS = ("k", "k_percent")


def validate_sweeps(config: dict[str, Any], path: Path | str) -> None:
    """``attackers.<id>.sweep``: ``{k_percent: [distinct numbers in (0, 100]]}`` on an untargeted budgeted attack."""
    for aid, spec in config["attackers"].items():
        sweep = (spec or {}).get("sweep")
        if sweep is None:
            continue
        where = f"attacker '{aid}': sweep"
        if not isinstance(sweep, dict) or set(sweep) != {"k_percent"}:
            raise ConfigError(f"{where} must be a mapping {{k_percent: [1, 2, 5, 10, 20]}}, got {sweep!r}", path)
        budgets = sweep["k_percent"]
        numbers = isinstance(budgets, list) and all(
            isinstance(b, (int, float)) and not isinstance(b, bool) for b in budgets
        )
        if not numbers or not budgets or len(set(budgets)) < len(budgets) or not all(0 < b <= 100 for b in budgets):
            raise ConfigError(
                f"{where}.k_percent must be a non-empty list of distinct numbers in (0, 100], got {budgets!r}", path
            )
        attack = spec.get("attack")
        if attack in ATTACKS and minimum_norm(attack):
            raise ConfigError(
                f"{where}: {attack} is a minimum-norm attack, its whole curve comes from one run; drop 'sweep'", path
            )
        if not sweepable(attack):
            budgeted = ", ".join(a for a in ATTACKS if sweepable(a))
            raise ConfigError(f"{where}: attack '{attack}' has no sample budget to sweep (budgeted attacks: {budgeted}; "
                              "STAA-Net generators appear as points)", path)  # fmt: skip
        if spec.get("target") is not None:
            raise ConfigError(f"{where}: curves measure untargeted success; a targeted attacker cannot be swept", path)


def swept_budgets(config: dict[str, Any]) -> list[float]:
    """Every budget swept in the experiment, in increasing order (the minimum-norm curves are read there)."""
    return sorted(
        {
            float(b)
            for spec in config["attackers"].values()
            for b in ((spec or {}).get("sweep") or {}).get("k_percent", [])
        }
    )


def curves(ctx: ExperimentContext) -> dict[str, Any] | None:
    """Craft (or reuse) the swept budgets and read every attacker's points; the ``curves`` section (None without one)."""
    attackers = {k: v for k, v in ctx.config["attackers"].items() if v}
    if not any(s.get("sweep") or minimum_norm(s["attack"]) for s in attackers.values()):
        return None
    split = ctx.splits[-1]
    budgets = swept_budgets(ctx.config) or list(DEFAULT_BUDGETS)
    readings = sorted({*budgets, WHOLE})
    points = []
    for threat in ctx.config["threat_models"]:
        for plan in attacker_plans(ctx.config, threat):
            if plan.group == "comparison" and plan.target is None and not plan.kind.control:
                points += _points(ctx, threat, plan, split, readings)
    return {"split": split, "budgets": budgets, "minimum_norm_readings": readings, "points": points}


def _points(
    ctx: ExperimentContext, threat: str, plan: AttackerPlan, split: str, readings: list[float]
) -> list[dict[str, Any]]:
    """The rows of ``plan`` on ``threat``, victim by victim: one per budget (swept) or reading (minimum-norm), or one point."""
    own = ctx.out / "adversarial" / threat / plan.id / split
    sweep = (ctx.config["attackers"][plan.id].get("sweep") or {}).get("k_percent")
    found: list[tuple[CurvePoint, Path]] = []
    if sweep:
        for budget in sorted(sweep):
            adv = _swept_set(ctx, threat, plan, float(budget), split)
            found += [
                (p, adv.directory)
                for p in set_points(adv, _replayed(ctx, adv, split), attacker=plan.id, budget=float(budget))
            ]
        kind = "sweep"
    else:
        adv = AdversarialSet.load(own)
        least = minimum_norm(plan.attack)
        replays = _replayed(ctx, adv, split)
        read = minimum_norm_set_curve(adv, replays, readings, attacker=plan.id) if least else \
            set_points(adv, replays, attacker=plan.id, point=True)  # fmt: skip
        found = [(p, own) for p in read]
        kind = "minimum_norm" if least else "point"
    order = ctx.config["victims"]
    found.sort(key=lambda item: order.index(item[0].victim))  # stable: budgets stay in order
    return [{"threat": threat, **asdict(p), "label": plan.label, "attack": plan.attack, "kind": kind,
             "adversarial_set": ctx.rel(directory)} for p, directory in found]  # fmt: skip


def _swept_set(ctx: ExperimentContext, threat: str, plan: AttackerPlan, budget: float, split: str) -> AdversarialSet:
    """``plan`` at ``k_percent = budget`` on ``split``: the attack table's own set when the settings agree."""
    settings = {**{k: v for k, v in plan.settings.items() if k not in BUDGET_KEYS}, "k_percent": budget}
    if settings == plan.settings:
        return AdversarialSet.load(ctx.out / "adversarial" / threat / plan.id / split)
    # The swept plan's id names its folders (adversarial/ and, for a universal perturbation, generators/).
    swept = replace(plan, id=f"{plan.id}/sweep/k{budget:g}", settings=settings)
    attack, identity = build_attack_for(ctx, threat, swept, None)
    directory = ctx.out / "adversarial" / threat / swept.id / split
    indices = ctx.indices(split)
    ctx.log(f"curves: {threat} × {plan.label} at k = {budget:g} % × {split}: {len(indices)} clips")
    return ctx.craft_or_reuse(attack, directory, split, indices, identity=identity, threat_key=ctx.fingerprints[threat],
                              target=None, meta={"threat": threat, "attacker": plan.id, "k_percent": budget},
                              perceptual=False)  # fmt: skip


def _replayed(ctx: ExperimentContext, adv: AdversarialSet, split: str) -> dict[str, dict[str, Any]]:
    """Every victim's (cached) result on ``adv``."""
    waves = ctx.corpus.split(split).waves
    return {v: evaluate_victim(adv, waves, ctx.models[v], v, key=ctx.fingerprints[v], device=ctx.device)
            for v in ctx.config["victims"]}  # fmt: skip
