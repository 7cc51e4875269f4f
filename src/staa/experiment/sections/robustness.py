"""The experiment's robust-accuracy step: defense pipelines in front of victims, against its attacks.

``defenses:`` in an experiment file names defense pipelines (:mod:`staa.defenses` specs such as
``"median:kernel=5+quantize:bits=8"``) and scores, on one split, every (victim, pipeline, attacker)
under the two threat models of :class:`~staa.defenses.defended.Defended`:

* **non-adaptive** — the attacker never saw the defense: the clips the experiment already crafted on
  each threat model (``adversarial/<threat>/<attacker>/<split>``) are replayed through each defended
  victim; nothing is re-crafted. Defense ``none`` is the bare victim, scored by the very evaluation the
  transfer table uses, so its row repeats the transfer table's number.
* **adaptive** — the attack is re-run against the defended victim itself (BPDA through steps, EOT over
  random draws), cached under ``robustness/<victim>/<defense>/<attacker>/<split>``. Only attacks that
  optimise each clip are re-run. STAA-Net and the universal perturbation would need a generator (or δ)
  trained through every defense — a training run per (victim, defense) — so their adaptive rows are
  listed under ``not_run`` with that reason; the zero control is the same clip in both modes.

Rows follow :func:`staa.evaluation.robustness.robustness_row`: clean accuracy of the defended victim and its
cost against ``none``, robust accuracy (true labels) and ASR (flips of the defended prediction); δ's
size is averaged over all attacked clips. Randomised defenses are seeded, so a run is reproducible.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from staa.attacks.base import FittedAttack
from staa.attacks.registry import attack_class
from staa.defenses import Defended, build_defenses
from staa.errors import ConfigError
from staa.evaluation.adversarial_set import AdversarialSet
from staa.evaluation.robustness import NO_DEFENSE, robustness_row
from staa.evaluation.transfer import evaluate_victim
from staa.experiment.context import ExperimentContext
from staa.experiment.plans import ID, AttackerPlan, attacker_plans, per_clip_attack, plan_of

KEYS = {"pipelines", "victims", "attackers", "adaptive", "eot_samples", "split"}


def not_adaptive(attack: str) -> str | None:
    """Why attack ``attack`` has no adaptive row: a fitted attack would need its state fitted through each defense."""
    cls = attack_class(attack)
    if issubclass(cls, FittedAttack):
        return (f"an adaptive {attack} attack needs its {cls.fitted_state} fitted through each defense "
                "(a training run per victim × defense)")  # fmt: skip
    return None


def validate_defenses(config: dict[str, Any], path: Path | str) -> None:
    """Check ``defenses``: known keys, buildable pipelines, and victims/attackers/split the experiment defines."""
    spec = config.get("defenses")
    if spec is None:
        return
    if not isinstance(spec, dict) or set(spec) - KEYS:
        raise ConfigError(f"defenses must be a mapping with keys among {', '.join(sorted(KEYS))}", path)
    pipelines = spec.get("pipelines")
    if not isinstance(pipelines, dict) or not pipelines:
        raise ConfigError("defenses.pipelines must map ids to defense specs, e.g. {median5: 'median:kernel=5'}", path)
    for did, pipeline in pipelines.items():
        if not isinstance(did, str) or not ID.fullmatch(did) or did == NO_DEFENSE:
            raise ConfigError(
                f"defenses.pipelines: '{did}' is not a valid id ('{NO_DEFENSE}' is the bare victim)", path
            )
        try:
            build_defenses(pipeline)
        except ConfigError as exc:
            raise ConfigError(f"defenses.pipelines.{did}: {exc}", path) from None
    for name in spec.get("victims") or []:
        if not (config["models"].get(name)):
            raise ConfigError(f"defenses.victims: model '{name}' is not defined under 'models'", path)
    attackers = {k: v for k, v in config["attackers"].items() if v}
    for aid in spec.get("attackers") or []:
        if aid not in attackers:
            raise ConfigError(
                f"defenses.attackers: '{aid}' is not an attacker of this experiment ({', '.join(attackers)})", path
            )
        if attackers[aid].get("target") is not None:
            raise ConfigError(
                f"defenses.attackers: '{aid}' is targeted; robust accuracy is measured against untargeted attacks", path
            )
    split = spec.get("split")
    if split is not None and split not in config["splits"]:
        raise ConfigError(f"defenses.split '{split}' is not one of the experiment's splits", path)
    eot = spec.get("eot_samples", 1)
    if not isinstance(eot, int) or eot < 1 or not isinstance(spec.get("adaptive", True), bool):
        raise ConfigError("defenses: eot_samples must be an integer >= 1 and adaptive true or false", path)


def robustness(ctx: ExperimentContext) -> dict[str, Any] | None:
    """Run (or reuse) the ``defenses`` section; the ``robustness`` section of ``results.json`` (None without one)."""
    spec = ctx.config.get("defenses")
    if not spec:
        return None
    split = spec.get("split") or ctx.splits[-1]
    pipelines = {NO_DEFENSE: [], **{d: build_defenses(p) for d, p in spec["pipelines"].items()}}
    victims = list(spec.get("victims") or ctx.config["victims"])
    comparison = [p.id for p in attacker_plans(ctx.config, ctx.config["threat_models"][0]) if p.group == "comparison"]
    attackers = list(
        spec.get("attackers") or [a for a in comparison if ctx.config["attackers"][a].get("target") is None]
    )
    adaptive, eot = bool(spec.get("adaptive", True)), int(spec.get("eot_samples", 1))
    scorer = DefendedScorer(ctx, split, pipelines, eot)
    rows: list[dict[str, Any]] = []
    for threat in ctx.config["threat_models"]:
        for aid in attackers:
            rows += scorer.replayed(threat, aid, victims)
    not_run = []
    if adaptive:
        for aid in attackers:
            plans = {v: plan_of(ctx.config, v, aid) for v in victims}
            attack = next(iter(plans.values())).attack
            if not_adaptive(attack):
                not_run.append({"attacker": aid, "mode": "adaptive", "reason": not_adaptive(attack)})
            elif not attack_class(attack).control:  # δ = 0 is the same clip whoever crafts it
                rows += [row for v in victims for row in scorer.adaptive(v, plans[v])]
    return {
        "split": split,
        "victims": victims,
        "attackers": attackers,
        "adaptive": adaptive,
        "eot_samples": eot,
        "defences": {d: [s.to_dict() for s in p] for d, p in pipelines.items()},
        "clean": scorer.clean_rows(victims),
        "rows": rows,
        "not_run": not_run,
    }


class DefendedScorer:
    """Scores adversarial sets on defended victims; remembers each (victim, defense)'s clean accuracy."""

    def __init__(self, ctx: ExperimentContext, split: str, pipelines: dict[str, list[Any]], eot: int) -> None:
        self.ctx, self.split, self.pipelines, self.eot = ctx, split, pipelines, eot
        self.waves = ctx.corpus.split(split).waves
        self.clean_acc: dict[str, dict[str, float]] = {}

    def key(self, victim: str, defense: str) -> str:
        """Identity of a defended victim's cached evaluation: the bare victim's weights plus the pipeline."""
        if defense == NO_DEFENSE:
            return self.ctx.fingerprints[victim]
        pipeline = json.dumps([d.to_dict() for d in self.pipelines[defense]], sort_keys=True)
        return f"{self.ctx.fingerprints[victim]}:{hashlib.sha256(pipeline.encode()).hexdigest()[:12]}"

    def evaluate(self, adv: AdversarialSet, victim: str, defense: str, *, adaptive: bool = False) -> dict[str, Any]:
        """Predictions of the defended victim on the clean and adversarial clips of ``adv`` (cached, seeded)."""
        model = Defended(self.ctx.models[victim], self.pipelines[defense], adaptive=adaptive, eot_samples=self.eot)
        name = victim if defense == NO_DEFENSE else f"{victim}+{defense}"
        torch.manual_seed(self.ctx.seed)  # randomised defenses draw the same noise in every run
        return evaluate_victim(adv, self.waves, model, name, key=self.key(victim, defense), device=self.ctx.device)

    def rows(
        self, adv: AdversarialSet, threat: str, attacker: str, victim: str, mode: str, scored: dict[str, dict]
    ) -> list[dict]:
        """Result rows of one adversarial set scored on ``victim`` behind each defense of ``scored``."""
        self.clean_acc.setdefault(victim, {}).update({d: r["clean_accuracy"] for d, r in scored.items()})
        snr, spars = adv.delta_measures(self.waves)
        return [
            {
                "threat": threat,
                "split": self.split,
                **robustness_row(
                    victim,
                    d,
                    attacker,
                    mode,
                    clean_pred=r["clean_pred"],
                    adv_pred=r["adv_pred"],
                    y=adv.labels,
                    clean_acc=self.clean_acc[victim],
                    snr_db=snr,
                    sparsity=spars,
                ),
            }
            for d, r in scored.items()
        ]

    def replayed(self, threat: str, attacker: str, victims: list[str]) -> list[dict[str, Any]]:
        """Non-adaptive rows: the experiment's adversarial set of (threat, attacker) on every defended victim."""
        adv = AdversarialSet.load(self.ctx.out / "adversarial" / threat / attacker / self.split)
        self.ctx.log(
            f"defenses: replaying {threat} × {attacker} × {self.split} on {len(victims)} victims × {len(self.pipelines)} defenses"
        )
        return [
            row
            for v in victims
            for row in self.rows(
                adv, threat, attacker, v, "non-adaptive", {d: self.evaluate(adv, v, d) for d in self.pipelines}
            )
        ]

    def adaptive(self, victim: str, plan: AttackerPlan) -> list[dict[str, Any]]:
        """Adaptive rows: ``plan``'s attack re-run against each defended ``victim`` and scored on it."""
        indices = self.ctx.indices(self.split)
        rows = []
        for defense, pipeline in self.pipelines.items():
            if defense == NO_DEFENSE:
                continue
            defended = Defended(self.ctx.models[victim], pipeline, adaptive=True, eot_samples=self.eot)
            attack = per_clip_attack(plan, defended.threat_model)
            directory = self.ctx.out / "robustness" / victim / defense / plan.id / self.split
            self.ctx.log(
                f"defenses: adaptive {plan.label} on {victim} + {defense} × {self.split}: {len(indices)} clips"
            )
            adv = self.ctx.craft_or_reuse(
                attack,
                directory,
                self.split,
                indices,
                identity=dict(plan.settings),
                threat_key=f"{self.key(victim, defense)}:eot{self.eot}",
                target=None,
                meta={"threat": f"{victim}+{defense}", "attacker": plan.id},
                perceptual=False,
            )
            rows += self.rows(
                adv, victim, plan.id, victim, "adaptive", {defense: self.evaluate(adv, victim, defense, adaptive=True)}
            )
        return rows

    def clean_rows(self, victims: list[str]) -> list[dict[str, Any]]:
        """Clean accuracy of every (victim, defense) on the attacked clips, and its cost against ``none``."""
        return [
            {"victim": v, "defence": d, "clean_accuracy": acc, "clean_cost": self.clean_acc[v][NO_DEFENSE] - acc}
            for v in victims
            for d, acc in self.clean_acc.get(v, {}).items()
        ]
