"""The experiment's targeted step: which emotions can each attacker impose, on the threat model and beyond?

``targeted: {attackers: [pgd], classes: all, split: test}`` runs each listed baseline attacker as a
targeted attack once per target class t, on the attacked clips of the split that the threat model does
*not* already assign to t (:mod:`staa.evaluation.targeted`'s protocol: those would be free successes).
Each (threat, attacker, target) set is crafted like every other adversarial set, under
``targeted/<threat>/<attacker>/<split>/<class>/``, so it resumes and is reused, and then replayed on every
victim: targeted success on a victim means the victim predicts t. STAA-Net and the universal
perturbation would need a generator (or δ) trained per target class, so only per-clip attacks are allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from staa.attacks.base import FittedAttack
from staa.attacks.registry import ATTACKS, attack_class
from staa.errors import ConfigError
from staa.evaluation.targeted import success_rates, target_entry
from staa.evaluation.transfer import evaluate_victim, predict, rate_intervals
from staa.experiment.context import ExperimentContext
from staa.experiment.plans import AttackerPlan, attacker_plans, per_clip_attack, plan_of

KEYS = {"attackers", "classes", "split"}


def per_clip(attack: str) -> bool:
    """Whether attack ``attack`` crafts each clip on its own (not fitted beforehand, not a control)."""
    cls = attack_class(attack)
    return not issubclass(cls, FittedAttack) and not cls.control


def validate_targeted(config: dict[str, Any], path: Path | str) -> None:
    """Check ``targeted``: known keys, per-clip attackers of this experiment, a reported split."""
    spec = config.get("targeted")
    if spec is None:
        return
    if not isinstance(spec, dict) or set(spec) - KEYS or not spec.get("attackers"):
        raise ConfigError(f"targeted must be a mapping with 'attackers' and keys among {', '.join(sorted(KEYS))}", path)
    attackers = {k: v for k, v in config["attackers"].items() if v}
    for aid in spec["attackers"]:
        if aid not in attackers:
            raise ConfigError(
                f"targeted.attackers: '{aid}' is not an attacker of this experiment ({', '.join(attackers)})", path
            )
        if not per_clip(attackers[aid]["attack"]):
            raise ConfigError(
                f"targeted.attackers: '{aid}' ({attackers[aid]['attack']}) would need training per target class; "
                f"use one of {', '.join(a for a in ATTACKS if per_clip(a))}",
                path,
            )
    classes = spec.get("classes", "all")
    if classes != "all" and not (isinstance(classes, list) and classes):
        raise ConfigError(f"targeted.classes must be 'all' or a list of class names, got {classes!r}", path)
    split = spec.get("split")
    if split is not None and split not in config["splits"]:
        raise ConfigError(f"targeted.split '{split}' is not one of the experiment's splits", path)


def check_classes(ctx: ExperimentContext) -> None:
    """Every class an experiment names (``targeted.classes``, an attacker's ``target``) is one of the prepared
    corpus's: checked as soon as the corpus is known, before any model is trained or clip attacked."""
    names = ctx.corpus.classes
    spec = ctx.config.get("targeted") or {}
    asked = [] if spec.get("classes", "all") == "all" else list(spec["classes"])
    unknown = [c for c in asked if c not in names]
    if unknown:
        raise ConfigError(f"targeted.classes: {unknown} are not classes of {ctx.corpus.name} ({', '.join(names)})")
    for threat in ctx.config["threat_models"]:
        for plan in attacker_plans(ctx.config, threat):
            if plan.target is not None and plan.target not in names:
                raise ConfigError(f"attacker '{plan.id}': target '{plan.target}' is not a class of {ctx.corpus.name} "
                                  f"({', '.join(names)})")  # fmt: skip


def targeted(ctx: ExperimentContext) -> dict[str, Any] | None:
    """Run (or reuse) the ``targeted`` section; the ``targeted`` section of ``results.json`` (None without one)."""
    spec = ctx.config.get("targeted")
    if not spec:
        return None
    names = ctx.corpus.classes
    classes = names if spec.get("classes", "all") == "all" else list(spec["classes"])
    unknown = [c for c in classes if c not in names]
    if unknown:
        raise ConfigError(f"targeted.classes: {unknown} are not classes of {ctx.corpus.name} ({', '.join(names)})")
    split = spec.get("split") or ctx.splits[-1]
    rows = [
        _success_per_target(ctx, threat, plan_of(ctx.config, threat, aid), split, classes)
        for threat in ctx.config["threat_models"]
        for aid in spec["attackers"]
    ]
    return {"split": split, "classes": classes, "victims": list(ctx.config["victims"]), "rows": rows}


def _success_per_target(
    ctx: ExperimentContext, threat: str, plan: AttackerPlan, split_name: str, classes: list[str]
) -> dict[str, Any]:
    """Per target class: success on the threat model (with δ's size) and on every victim."""
    split = ctx.corpus.split(split_name)
    model = ctx.models[threat]
    base = ctx.indices(split_name)
    clean = predict(model, split.waves, base, device=ctx.device)
    attack = per_clip_attack(plan, model, targeted=True)
    per_target: dict[str, dict[str, Any]] = {}
    for name in classes:
        t = ctx.corpus.classes.index(name)
        rows = base[clean != t]
        if len(rows) == 0:
            nothing = torch.zeros(0)
            per_target[name] = {**target_entry(t, nothing.bool(), nothing, nothing), "victims": {}, "victims_ci": {}}
            continue
        directory = ctx.out / "targeted" / threat / plan.id / split_name / name
        ctx.log(f"targeted: {threat} × {plan.label} → {name} × {split_name}: {len(rows)} clips")
        adv = ctx.craft_or_reuse(
            attack,
            directory,
            split_name,
            rows,
            identity=dict(plan.settings),
            threat_key=ctx.fingerprints[threat],
            target=t,
            meta={"threat": threat, "attacker": plan.id},
            perceptual=False,
        )
        snr, spars = adv.delta_measures(split.waves)
        replays = {
            v: evaluate_victim(adv, split.waves, ctx.models[v], v, key=ctx.fingerprints[v], device=ctx.device)
            for v in ctx.config["victims"]
        }
        per_target[name] = {**target_entry(t, adv.success, snr, spars), "victims": {v: r["asr"] for v, r in replays.items()},
                            "victims_ci": {v: rate_intervals(adv, r)["asr"] for v, r in replays.items()}}  # fmt: skip
    summary = success_rates(per_target)
    rated = [e for e in per_target.values() if e["success_rate"] is not None]
    victims_mean = {
        v: sum(e["victims"][v] for e in rated) / len(rated) if rated else None for v in ctx.config["victims"]
    }
    return {
        "threat": threat,
        "attacker": plan.id,
        "attack": plan.attack,
        "label": plan.label,
        "split": split_name,
        **summary,
        "victims_mean": victims_mean,
    }
