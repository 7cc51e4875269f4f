"""Success versus sparsity: sweep an attack's sample budget and read ASR against the sparsity it used.

One operating point says little about a sparse attack; a curve says how its success grows with the
samples it may change. :func:`sweep` crafts once per budget (``k_percent``) on the threat model and
replays the audio on every victim, giving one :class:`CurvePoint` per budget and victim; x is the
*measured* mean sparsity of the clips that fooled the threat model (the paper's protocol for sparsity,
:mod:`staa.metrics`), so an attack that uses less than its budget sits further left. An attack without
a budget (a trained STAA-Net generator) is measured once by :func:`measure` and drawn as a point.

A minimum-norm attack (σ-zero, FMN) gives the whole curve from one run: a clip counts as fooled at
sparsity s when its minimum L0 is at most s (:func:`minimum_norm_curve`). Robust accuracy (accuracy on
the adversarial clips against the true labels) is recorded whenever the labels are given.

Every point's ASR and robust accuracy is a share of its ``n_clips`` clips, so each comes with its 95 %
bootstrap interval over those clips (``asr_ci``, ``robust_accuracy_ci``: :meth:`staa.uncertainty.Interval.to_dict`),
from the same per-clip indicators the rate is the mean of; a minimum-norm reading's indicators (within
the budget and flipped; the prediction the budget leaves) are per clip as well, so the same bootstrap applies.

Crafted sets stored on disk (:mod:`staa.evaluation.adversarial_set`, replayed on victims by
:mod:`staa.evaluation.transfer`) give the same points without crafting again: :func:`set_points` (one
set: one budget of a sweep, or a generator's point) and :func:`minimum_norm_set_curve` (a minimum-norm
set read at every budget, on every victim: at budget s a clip carries its perturbation when that fooled
the threat model with at most s % of the samples, and a victim counts it when its prediction flips).
This is how ``staa run`` and ``staa attack sweep`` draw their curves, so a resumed run reuses every
finished budget.

:func:`write_csv` and :func:`plot` (Matplotlib PNG, one panel per victim, one line per attacker) write
the results; both write atomically.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from staa.attacks.base import Attack, AttackResult, BudgetedAttack, MinimizationAttack
from staa.attacks.registry import attack_class
from staa.evaluation.adversarial_set import AdversarialSet
from staa.evaluation.figures import save_png
from staa.evaluation.transfer import rate_intervals
from staa.io.outputs import atomic_path
from staa.metrics import accuracy, attack_success_rate
from staa.models.base import SERModel
from staa.uncertainty import ArrayLike, accuracy_interval, asr_interval, rate_interval

IntervalDict = dict[str, Any]  # staa.uncertainty.Interval.to_dict(), as results.json stores it


def minimum_norm(name: str) -> bool:
    """Whether attack ``name`` seeks the fewest samples: one run answers every budget, its curve needs no sweep."""
    return issubclass(attack_class(name), MinimizationAttack)


def sweepable(name: str) -> bool:
    """Whether attack ``name`` is built at a sample budget ``k_percent`` that a sweep can vary.

    STAA-Net is trained at one budget per generator, so it is measured as points instead.
    """
    return issubclass(attack_class(name), BudgetedAttack)


@dataclass(frozen=True)
class CurvePoint:
    """One attacker at one budget on one victim; ``budget`` is the swept k_percent (None: no budget)."""

    attacker: str
    victim: str
    budget: float | None
    sparsity_pct: float
    asr: float
    n_clips: int
    robust_accuracy: float | None = None
    point: bool = False  # drawn as a marker (a generator), not joined into a line
    asr_ci: IntervalDict | None = None  # bootstrap intervals over the n_clips clips (None: not measured)
    robust_accuracy_ci: IntervalDict | None = None


def measure(
    attack: Attack,
    x: Tensor,
    victims: Mapping[str, SERModel],
    *,
    attacker: str,
    labels: Tensor | None = None,
    budget: float | None = None,
    point: bool = False,
) -> list[CurvePoint]:
    """Craft on ``attack``'s model once, then score the adversarial clips on every victim."""
    result = attack(x)
    fooled = result.success
    sparsity = float(result.sparsity[fooled].mean()) if fooled.any() else float(result.sparsity.mean())
    points = []
    for name, victim in victims.items():
        clean, adv = _predict(victim, result.x_adv - result.delta), _predict(victim, result.x_adv)
        asr = attack_success_rate(clean, adv, result.target)
        robust = None if labels is None else accuracy(adv, labels)
        asr_ci = asr_interval(clean, adv, result.target).to_dict()
        robust_ci = _accuracy_ci(adv, labels)
        points.append(CurvePoint(attacker, name, budget, sparsity, asr, len(x), robust, point, asr_ci, robust_ci))
    return points


def _accuracy_ci(pred: ArrayLike, labels: ArrayLike | None) -> IntervalDict | None:
    return None if labels is None else accuracy_interval(pred, labels).to_dict()


def sweep(
    make_attack: Callable[[float], Attack],
    budgets: Sequence[float],
    x: Tensor,
    victims: Mapping[str, SERModel],
    *,
    attacker: str,
    labels: Tensor | None = None,
) -> list[CurvePoint]:
    """``make_attack(k_percent)`` at every budget, measured on every victim (budgets in increasing order)."""
    points = []
    for budget in sorted(budgets):
        points += measure(make_attack(budget), x, victims, attacker=attacker, labels=labels, budget=budget)
    return points


def minimum_norm_curve(
    result: AttackResult, budgets: Sequence[float], *, attacker: str, victim: str
) -> list[CurvePoint]:
    """ASR at each sparsity budget (%) on the attacked model, read off one minimum-norm run."""
    return minimum_norm_points(result.sparsity, result.success, budgets, attacker=attacker, victim=victim)


def minimum_norm_points(
    sparsity_pct: Tensor,
    fooled: Tensor,
    budgets: Sequence[float],
    *,
    attacker: str,
    victim: str,
    flipped: Tensor | None = None,
    predictions: tuple[Tensor, Tensor, Tensor] | None = None,
) -> list[CurvePoint]:
    """The curve of per-clip minimum sparsities: at budget s a clip carries its perturbation when it
    ``fooled`` the threat model with at most s % of the samples.

    ``flipped`` says on which clips that perturbation flips ``victim`` (default: ``fooled``, the
    threat model itself); ``predictions`` (the victim's clean and adversarial predictions and the
    true labels) add robust accuracy: a clip outside the budget keeps its clean prediction.
    """
    needed = torch.where(fooled, sparsity_pct.double(), torch.full_like(sparsity_pct.double(), float("inf")))
    flipped = fooled if flipped is None else flipped
    points = []
    for budget in sorted(budgets):
        within = needed <= budget
        sparsity = float(needed[within].mean()) if within.any() else 0.0
        robust, robust_ci = None, None
        if predictions is not None:
            clean, adv, labels = predictions
            read = torch.where(within, adv, clean)
            robust, robust_ci = accuracy(read, labels), _accuracy_ci(read, labels)
        asr = rate_interval(within & flipped)
        points.append(CurvePoint(attacker, victim, budget, sparsity, asr.value, len(needed), robust, False,
                                 asr.to_dict(), robust_ci))  # fmt: skip
    return points


def set_points(
    adv: AdversarialSet,
    victims: Mapping[str, Mapping[str, Any]],
    *,
    attacker: str,
    budget: float | None = None,
    point: bool = False,
) -> list[CurvePoint]:
    """One crafted set on every victim (``victims``: :func:`~staa.evaluation.transfer.evaluate_victim`'s results).

    x is the set's measured sparsity over the clips that fooled the threat model (over all clips when
    none did), as in :func:`measure`; the intervals come from the victims' stored per-clip predictions.
    """
    sparsity = adv.records["summary"]["sparsity_pct"]
    if sparsity is None:
        sparsity = float(np.mean([e["sparsity_pct"] for e in adv.records["examples"]]))
    return [
        CurvePoint(
            attacker,
            name,
            budget,
            sparsity,
            r["asr"],
            r["n"],
            r["adv_accuracy"],
            point,
            rate_intervals(adv, r)["asr"],
            _accuracy_ci(r["adv_pred"], adv.labels),
        )  # fmt: skip
        for name, r in victims.items()
    ]


def minimum_norm_set_curve(
    adv: AdversarialSet, victims: Mapping[str, Mapping[str, Any]], budgets: Sequence[float], *, attacker: str
) -> list[CurvePoint]:
    """A crafted minimum-norm set read at every budget on every victim, with robust accuracy."""
    sparsity = torch.tensor([e["sparsity_pct"] for e in adv.records["examples"]], dtype=torch.float64)
    fooled, labels = torch.from_numpy(adv.success), torch.from_numpy(adv.labels)
    points = []
    for name, r in victims.items():
        clean, changed = torch.tensor(r["clean_pred"]), torch.tensor(r["adv_pred"])
        points += minimum_norm_points(sparsity, fooled, budgets, attacker=attacker, victim=name,
                                      flipped=changed != clean, predictions=(clean, changed, labels))  # fmt: skip
    return points


INTERVALS = ("asr_ci", "robust_accuracy_ci")


def write_csv(points: Sequence[CurvePoint], path: str | Path) -> Path:
    """One row per point, the :class:`CurvePoint` fields as columns; an interval as its bounds
    (``asr_low``, ``asr_high``, …; empty when not measured), so every cell stays one number."""
    path = Path(path)
    names = [f.name for f in fields(CurvePoint) if f.name not in INTERVALS]
    names += [f"{key.removesuffix('_ci')}_{end}" for key in INTERVALS for end in ("low", "high")]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        writer.writerows(_csv_row(p) for p in points)
    return path


def _csv_row(point: CurvePoint) -> dict[str, Any]:
    row = asdict(point)
    for key in INTERVALS:
        ci = row.pop(key) or {}
        row.update({f"{key.removesuffix('_ci')}_{end}": ci.get(end) for end in ("low", "high")})
    return row


SPARSITY_TICKS = (0, 0.1, 1, 2, 5, 10, 20, 50, 100)


def plot(points: Sequence[CurvePoint], path: str | Path, *, title: str = "") -> Path:
    """ASR (%) against measured sparsity (%), one panel per victim, one line (or marker) per attacker.

    Sparsity is drawn on a symmetric-log axis (linear below 0.1 %, logarithmic above), so a one-sample
    attack, budgets of 1–20 % and a dense one read apart; the legend sits to the right of the panels.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    victims = list(dict.fromkeys(p.victim for p in points))
    attackers = list(dict.fromkeys(p.attacker for p in points))
    colours = {a: plt.get_cmap("tab10")(i % 10) for i, a in enumerate(attackers)}
    fig, axes = plt.subplots(1, len(victims), figsize=(4.5 * len(victims), 3.8), squeeze=False, constrained_layout=True)
    for ax, victim in zip(axes[0], victims):
        for attacker in attackers:
            mine = sorted(
                (p for p in points if p.victim == victim and p.attacker == attacker), key=lambda p: p.sparsity_pct
            )
            if not mine:
                continue
            xs, ys = [p.sparsity_pct for p in mine], [100 * p.asr for p in mine]
            style = {"linestyle": "none", "marker": "*", "markersize": 11} if mine[0].point else {"marker": "o"}
            ax.plot(xs, ys, color=colours[attacker], label=attacker, **style)
        ax.set(title=f"victim: {victim}", xlabel="sparsity (% of samples changed)", ylabel="ASR (%)", ylim=(-2, 102))
        ax.set_xscale("symlog", linthresh=0.1, linscale=0.5)
        ax.set_xlim(-0.01, 110)
        ax.set_xticks(SPARSITY_TICKS, [f"{t:g}" for t in SPARSITY_TICKS])
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


def _predict(victim: SERModel, x: Tensor) -> Tensor:
    return victim.predict(x.to(next(victim.parameters()).device)).cpu()
