"""Targeted success per target class: which emotions can an attacker impose, and at what cost?

For every class t the targeted attack is run on the clips the model does *not* already assign to t
(those would count as free successes and inflate the rate), and success means the model now predicts
t. Classes are reported by name; ``mean_success_rate`` is the macro average over targets that had
clips to attack, ``overall_success_rate`` the micro average over all attacked (clip, target) pairs.

A target's success rate is a share of its ``n`` clips and carries its 95 % bootstrap interval over them
(``success_rate_ci``, :mod:`staa.uncertainty`). The two averages keep their point value only: neither is
a share of clips (the macro mean averages rates over different, overlapping sets of clips; the micro rate
counts each clip once per target it was attacked towards), so the clip bootstrap of one rate does not
apply to them as it stands, and the per-target intervals already say how far each rate can be trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from staa.attacks.base import Attack
from staa.errors import ConfigError
from staa.metrics import already_at_target, mean_snr
from staa.models.base import SERModel
from staa.uncertainty import rate_interval


def targeted_success_by_class(
    factory: Callable[[nn.Module], Attack], model: SERModel, x: Tensor, *, batch_size: int = 32
) -> dict[str, Any]:
    """Run ``factory(model)`` (a targeted attack) once per target class on ``x``; rates per target."""
    attack = factory(model)
    if not attack.targeted:
        raise ConfigError(f"{attack.name}: targeted success needs an attack built with targeted=True")
    names = list(model.config.class_names) or [str(c) for c in range(model.num_classes)]
    clean = model.predict(x, batch_size)
    per_target: dict[str, dict[str, Any]] = {}
    for t in range(model.num_classes):
        keep = ~already_at_target(clean, t)  # no success is possible there (metrics.succeeded): left out
        if keep.any():
            result = attack(x[keep], target=t)
            per_target[names[t]] = target_entry(t, result.success, result.snr_db, result.sparsity)
        else:
            per_target[names[t]] = target_entry(t, torch.zeros(0, dtype=torch.bool), torch.zeros(0), torch.zeros(0))
    return {"attack": attack.name, **success_rates(per_target)}


def target_entry(target: int, success: Tensor, snr_db: Tensor, sparsity: Tensor) -> dict[str, Any]:
    """One target's record from the per-clip outcome on the clips not already predicted as ``target``.

    Public so that targeted clips crafted elsewhere (an experiment's cached sets) are summarised with
    exactly these definitions: SNR and sparsity are averaged over the clips that reached the target.
    Without clips (every clip already predicted as ``target``) rate and interval are None.
    """
    ok = torch.as_tensor(success).bool()
    entry: dict[str, Any] = {"target": target, "n": len(ok), "n_success": int(ok.sum()), "success_rate": None,
                             "success_rate_ci": None}  # fmt: skip
    if len(ok):
        ci = rate_interval(ok)  # its value is the rate in float64: n_success / n exactly, as the table prints it
        entry.update(
            success_rate=ci.value,
            success_rate_ci=ci.to_dict(),
            mean_snr_db=mean_snr(snr_db[ok]).mean_db,
            mean_sparsity_pct=float(sparsity[ok].mean()) if ok.any() else None,
        )
    return entry


def success_rates(per_target: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``per_target`` with its macro (``mean_success_rate``) and micro (``overall_success_rate``) averages."""
    rates = [e["success_rate"] for e in per_target.values() if e["success_rate"] is not None]
    attempts = sum(e["n"] for e in per_target.values())
    return {
        "per_target": per_target,
        "mean_success_rate": sum(rates) / len(rates) if rates else None,
        "overall_success_rate": sum(e["n_success"] for e in per_target.values()) / attempts if attempts else None,
    }
