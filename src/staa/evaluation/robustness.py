"""Robust accuracy: every victim × defense × attack, non-adaptive and adaptive, as one JSON-able dict.

For each victim the attacks are first crafted against the bare model (the **non-adaptive** attacker,
who does not know the defense) and the same adversarial clips are scored on every defended version;
then each attack is re-run through each defense (the **adaptive** attacker: exact gradients, BPDA
through steps, EOT over random draws) and scored on that defended model. A row reports, on the
defended model, its clean accuracy, the accuracy it keeps under attack (*robust accuracy*, against
the true labels) and the attack success rate (*ASR*: the share of clips whose defended prediction
flips, the paper's definition); ``clean_cost`` is the clean accuracy the defense costs the victim.
Defense ``"none"`` (the bare victim) is always evaluated first as the reference. A randomised defense
(additive noise) draws anew for the clean and the adversarial prediction, so its ASR includes flips the
noise causes by itself; the ``zero`` attack's row measures that floor.

Clean accuracy, robust accuracy and ASR are shares of the row's ``n`` clips and each carries its 95 %
bootstrap interval over them (``clean_accuracy_ci``, ``robust_accuracy_ci``, ``asr_ci``;
:mod:`staa.uncertainty`, the same redraws for all three). The clean cost, a difference of two models'
accuracies, keeps its point value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from staa.attacks.base import Attack, AttackResult
from staa.attacks.registry import attack_options, build_attack
from staa.defaults import DEFAULT_EPS
from staa.defenses.base import Defense
from staa.defenses.defended import Defended
from staa.defenses.registry import parse_spec
from staa.evaluation.adversarial_set import finite_or_none
from staa.evaluation.tables import Table
from staa.evaluation.tables import robustness_table as rows_table
from staa.metrics import ArrayLike, accuracy, attack_success_rate, correct_to_wrong_rate, mean_snr
from staa.models.base import SERModel
from staa.runtime.reproducibility import provenance, seed_everything
from staa.uncertainty import accuracy_interval, asr_interval

AttackFactory = Callable[[nn.Module], Attack]
NO_DEFENSE = "none"


def attack_factory(name: str, **kwargs: Any) -> AttackFactory:
    """``attack_factory("pgd", eps=0.05, k_percent=10)`` builds that attack on whichever model it is given."""
    return functools.partial(build_attack, name, **kwargs)


def attack_factory_from_spec(spec: str) -> AttackFactory:
    """``"pgd:eps=0.05,k_percent=5"`` (or ``eps_db=26``) → a factory, its options checked before any work;
    without either budget ε is :data:`~staa.defaults.DEFAULT_EPS`, as everywhere."""
    options = parse_spec(spec)
    name = options.pop("name")
    default = {} if "eps" in options or "eps_db" in options else {"eps": DEFAULT_EPS}
    return attack_factory(name, **attack_options(name, **{**default, **options}))


def robust_accuracy(
    victims: Mapping[str, SERModel],
    defenses: Mapping[str, Sequence[Defense]],
    attacks: Mapping[str, AttackFactory],
    x: Tensor,
    y: Tensor,
    *,
    adaptive: bool = True,
    eot_samples: int = 1,
    batch_size: int = 32,
    seed: int = 0,
) -> dict[str, Any]:
    """Clean cost of every defense and robust accuracy / ASR of every (victim, defense, attack, mode).

    ``x`` (n, N) clips with true labels ``y`` (n,). Untargeted attacks push each clip away from the
    attacked model's own clean prediction, as in the paper. Returns ``{"clean": [...], "rows": [...]}``
    plus the settings and provenance; :func:`robustness_table` renders the rows.
    """
    seed_everything(seed)
    y = torch.as_tensor(y).long()
    pipelines = {NO_DEFENSE: [], **{k: list(v) for k, v in defenses.items() if k != NO_DEFENSE}}
    clean_rows: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for victim_name, victim in victims.items():
        victim.eval()
        defended = {d: Defended(victim, p, adaptive=False) for d, p in pipelines.items()}
        clean_pred = {d: model.predict(x, batch_size) for d, model in defended.items()}
        clean_acc = {d: accuracy(p, y) for d, p in clean_pred.items()}
        for d in pipelines:
            cost = clean_acc[NO_DEFENSE] - clean_acc[d]
            clean_rows.append({"victim": victim_name, "defence": d, "clean_accuracy": clean_acc[d], "clean_cost": cost})
        for attack_name, factory in attacks.items():
            crafted = factory(victim)(x)
            for d, model in defended.items():
                adv_pred = model.predict(crafted.x_adv, batch_size)
                rows.append(
                    _row(victim_name, d, attack_name, "non-adaptive", crafted, clean_pred[d], adv_pred, y, clean_acc)
                )
            if not adaptive:
                continue
            for d, pipeline in pipelines.items():
                if d == NO_DEFENSE:
                    continue
                model = Defended(victim, pipeline, adaptive=True, eot_samples=eot_samples)
                crafted = factory(model.threat_model)(x)
                adv_pred = model.predict(crafted.x_adv, batch_size)
                rows.append(
                    _row(victim_name, d, attack_name, "adaptive", crafted, clean_pred[d], adv_pred, y, clean_acc)
                )
    settings = {
        "victims": list(victims),
        "defences": {d: [s.to_dict() for s in p] for d, p in pipelines.items()},
        "attacks": list(attacks),
        "adaptive": adaptive,
        "eot_samples": eot_samples,
        "n": len(y),
    }
    return {**settings, "clean": clean_rows, "rows": rows, "provenance": provenance(settings, seed)}


def _row(
    victim: str,
    defense: str,
    attack: str,
    mode: str,
    crafted: AttackResult,
    clean_pred: Tensor,
    adv_pred: Tensor,
    y: Tensor,
    clean_acc: Mapping[str, float],
) -> dict[str, Any]:
    return robustness_row(
        victim,
        defense,
        attack,
        mode,
        clean_pred=clean_pred,
        adv_pred=adv_pred,
        y=y,
        clean_acc=clean_acc,
        snr_db=crafted.snr_db,
        sparsity=crafted.sparsity,
    )


def robustness_row(
    victim: str,
    defense: str,
    attack: str,
    mode: str,
    *,
    clean_pred: ArrayLike,
    adv_pred: ArrayLike,
    y: ArrayLike,
    clean_acc: Mapping[str, float],
    snr_db: Tensor,
    sparsity: Tensor,
) -> dict[str, Any]:
    """One result row from predictions on the defended model and the per-clip size of δ = x_adv − x.

    Public so that adversarial clips crafted elsewhere (an experiment's cached sets) are scored with
    exactly these definitions; ``clean_acc`` maps each defense of the victim to its clean accuracy.
    """
    return {
        "victim": victim,
        "defence": defense,
        "attack": attack,
        "mode": mode,
        "n": len(y),
        "clean_accuracy": clean_acc[defense],
        "clean_cost": clean_acc[NO_DEFENSE] - clean_acc[defense],
        "robust_accuracy": accuracy(adv_pred, y),
        "asr": attack_success_rate(clean_pred, adv_pred),
        "correct_to_wrong": finite_or_none(correct_to_wrong_rate(clean_pred, adv_pred, y)),  # NaN: no clip was right
        "clean_accuracy_ci": accuracy_interval(clean_pred, y).to_dict(),
        "robust_accuracy_ci": accuracy_interval(adv_pred, y).to_dict(),
        "asr_ci": asr_interval(clean_pred, adv_pred).to_dict(),
        "mean_snr_db": mean_snr(snr_db).mean_db,
        "mean_sparsity_pct": float(sparsity.mean()),
    }


def robustness_table(result: Mapping[str, Any]) -> Table:
    """Markdown/CSV/LaTeX-ready table of :func:`robust_accuracy` rows (percentages; cost in points)."""
    return rows_table(result["rows"])
