"""Transfer evaluation: replay an adversarial set, crafted once on a threat model, on every victim.

This is the paper's protocol (§4.3, docs/official-code.md §7): the victim is never queried while crafting,
and an untargeted attack *succeeds on a victim* when the victim's prediction on x_adv differs from its
own prediction on the clean clip (a targeted one when it equals the target). Because each victim is
scored on the very same stored audio (:mod:`staa.evaluation.adversarial_set`), adding a victim or
rerunning an evaluation never re-crafts; each victim's result is cached in the set's ``victims/`` folder.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from staa.evaluation.adversarial_set import AdversarialSet, finite_or_none
from staa.io.outputs import write_json
from staa.metrics import attack_success_rate, correct_to_wrong_rate
from staa.models.base import SERModel
from staa.runtime.reproducibility import provenance
from staa.uncertainty import asr_interval, correct_to_wrong_interval


def predict(
    model: SERModel,
    waves: np.ndarray,
    rows: np.ndarray | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Arg-max predictions of ``model`` for ``rows`` of ``waves`` (all rows by default), in fixed batches.

    Rows are read batch by batch, so a memory-mapped split is never loaded whole. Clean and adversarial
    audio go through the same batching, so identical inputs get identical predictions (the
    zero-perturbation control then scores exactly 0 %).
    """
    rows = np.arange(len(waves)) if rows is None else rows
    out = []
    for i in range(0, len(rows), batch_size):
        x = torch.from_numpy(np.array(waves[rows[i : i + batch_size]], dtype=np.float32)).to(device)
        out.append(model.predict(x, batch_size).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def evaluate_victim(
    adv: AdversarialSet,
    waves: np.ndarray,
    victim: SERModel,
    name: str,
    *,
    key: str = "",
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """ASR and correct→wrong rate of ``victim`` on an adversarial set; cached in ``victims/<name>.json``.

    ``key`` identifies the victim's weights (see :func:`~staa.evaluation.adversarial_set.file_fingerprint`); a cached result made with
    other weights is recomputed rather than reused.
    """
    path = adv.directory / "victims" / f"{name}.json"
    if path.exists():
        cached = json.loads(path.read_text())
        if cached.get("key") == key:
            return cached
    victim.to(device)
    clean_pred = predict(victim, waves, adv.indices, batch_size, device)
    adv_pred = predict(victim, adv.x_adv, None, batch_size, device)
    target = None if adv.target is None else np.full(len(adv_pred), adv.target)
    result = {
        "victim": name,
        "key": key,
        "n": len(adv_pred),
        "asr": attack_success_rate(clean_pred, adv_pred, target),
        "correct_to_wrong": finite_or_none(correct_to_wrong_rate(clean_pred, adv_pred, adv.labels)),
        "clean_accuracy": float((clean_pred == adv.labels).mean()),
        "adv_accuracy": float((adv_pred == adv.labels).mean()),
        "clean_pred": clean_pred.tolist(),
        "adv_pred": adv_pred.tolist(),
        "provenance": provenance({"victim": name, "key": key, "adversarial_set": str(adv.directory)}),
    }
    write_json(path, result)
    return result


def rate_intervals(adv: AdversarialSet, victim: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """95 % bootstrap intervals over the attacked clips of one victim's ASR and correct→wrong rate
    (:mod:`staa.uncertainty`), from the predictions :func:`evaluate_victim` stored."""
    clean, adv_pred = np.asarray(victim["clean_pred"]), np.asarray(victim["adv_pred"])
    target = None if adv.target is None else np.full(len(adv_pred), adv.target)
    return {
        "asr": asr_interval(clean, adv_pred, target).to_dict(),
        "correct_to_wrong": correct_to_wrong_interval(clean, adv_pred, adv.labels).to_dict(),
    }


def transfer_row(adv: AdversarialSet, victims: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One row of the transfer matrix: the threat-side summary plus every victim's rates and their
    intervals (``asr_ci``, ``correct_to_wrong_ci``: victim → :meth:`~staa.uncertainty.Interval.to_dict`)."""
    s = adv.records["summary"]
    intervals = {v: rate_intervals(adv, r) for v, r in victims.items()}
    return {
        "n": s["n"],
        "n_success": s["n_success"],
        "snr_db": s["snr_db"],
        "snr_db_median": s.get("snr_db_median"),
        "eps_median": s.get("eps_median"),
        "eps_db_median": s.get("eps_db_median"),
        "snr_excluded": s["snr_excluded"],
        "sparsity_pct": s["sparsity_pct"],
        "mask_jaccard": s.get("mask_jaccard"),
        "mask_periodicity": s.get("mask_periodicity"),
        "seconds_per_example": s["seconds_per_example"],
        "pesq": s.get("pesq"),
        "stoi": s.get("stoi"),
        "asr": {v: r["asr"] for v, r in victims.items()},
        "correct_to_wrong": {v: r["correct_to_wrong"] for v, r in victims.items()},
        "asr_ci": {v: i["asr"] for v, i in intervals.items()},
        "correct_to_wrong_ci": {v: i["correct_to_wrong"] for v, i in intervals.items()},
        "clean_accuracy": {v: r["clean_accuracy"] for v, r in victims.items()},
        "adv_accuracy": {v: r["adv_accuracy"] for v, r in victims.items()},
    }
