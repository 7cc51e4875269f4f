"""The attack step repeated over seeds: ``attack_seeds`` and the ``attack_seeds`` section.

One seed fixes a whole run, so one run's ASR says nothing about how much a randomised attack (a
generator's initial weights and data order, a random start, a random search) moves from one seed to the
next. ``attack_seeds: [1, 2]`` repeats the attack step for each of those seeds, beside the experiment's
own ``seed``, with the SER models and the corpus unchanged: every randomised attacker (STAA-Net, the
universal perturbation and each attack that takes a seed) is trained, fitted or crafted again under
``seeds/<seed>/`` and replayed on every victim. :func:`attack_seeds` then reports, per threat model,
attacker, split and victim, the ASR and correct→wrong rate as mean ± sample standard deviation over the
seeds (:func:`staa.uncertainty.spread`); a deterministic attacker and the control rows are crafted once
and listed with one seed. The spread over seeds and the bootstrap interval over clips answer different
questions (another seed, other clips) and are reported side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from staa import validation
from staa.attacks.base import FittedAttack
from staa.attacks.registry import accepts
from staa.errors import ConfigError
from staa.experiment.context import ExperimentContext
from staa.experiment.plans import AttackerPlan, attacker_plans
from staa.experiment.steps import attack_and_replay
from staa.uncertainty import spread

RATES = ("asr", "correct_to_wrong")


def validate_attack_seeds(config: dict[str, Any], path: Path | str) -> None:
    """``attack_seeds``: a list of distinct seeds (the experiment's own ``seed`` is always the first)."""
    seeds = config.get("attack_seeds")
    if seeds is None:
        return
    if not isinstance(seeds, list) or len(set(map(str, seeds))) != len(seeds):
        raise ConfigError(f"attack_seeds: must be a list of distinct seeds, got {seeds!r}", path)
    try:
        for s in seeds:
            validation.seed("attack_seeds", s)
    except ConfigError as exc:
        raise ConfigError(str(exc), path) from None


def extra_seeds(ctx: ExperimentContext) -> list[int]:
    """The repeats' seeds: ``attack_seeds`` without the experiment's own seed."""
    return [int(s) for s in ctx.config.get("attack_seeds") or [] if int(s) != ctx.seed]


def randomised(plan: AttackerPlan) -> bool:
    """Whether another seed can change the plan's adversarial set (controls and deterministic attacks cannot)."""
    if plan.group == "control":
        return False
    return issubclass(plan.kind, FittedAttack) or accepts(plan.attack, "seed")


def attack_seeds(ctx: ExperimentContext, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Repeat the randomised attackers under every extra seed; mean ± sd per row and victim (None: no repeats)."""
    seeds = extra_seeds(ctx)
    if not seeds:
        return None
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {
        (r["threat"], r["attacker"], r["split"]): [r] for r in rows
    }
    for seed in seeds:
        repeat = ctx.for_attack_seed(seed)
        for threat in ctx.config["threat_models"]:
            for plan in attacker_plans(ctx.config, threat):
                if randomised(plan):
                    ctx.log(f"attack seeds: repeating {threat} × {plan.label} with seed {seed}")
                    for row in attack_and_replay(repeat, threat, plan):
                        runs[(row["threat"], row["attacker"], row["split"])].append(row)
    summary = []
    for (threat, attacker, split), repeated in runs.items():
        first = repeated[0]
        entry: dict[str, Any] = {"threat": threat, "attacker": attacker, "label": first["label"], "split": split,
                                 "group": first["group"], "n": first["n"], "n_seeds": len(repeated)}  # fmt: skip
        for rate in RATES:
            entry[rate] = {v: _spread([r[rate].get(v) for r in repeated]) for v in first[rate]}
        summary.append(entry)
    return {"seeds": [ctx.seed, *seeds], "rows": summary}


def _spread(values: list[float | None]) -> dict[str, float | int] | None:
    finite = [v for v in values if v is not None]
    return spread(finite).to_dict() if finite else None
