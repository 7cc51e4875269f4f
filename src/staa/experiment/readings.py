"""What the attack tables say in words: which rows are audible, and whether a generator's positions matter.

* **Audible rows.** A row whose median peak SNR (over the clips that fooled the threat model) is under
  :data:`AUDIBLE_SNR_DB` is flagged: its perturbation is no longer hidden under the speech, whatever its ASR.
  The δ = 0 controls are not perturbations (the authors' shift measures a shifted clip) and are not flagged.
* **Positions.** A STAA-Net generator is compared with its mask controls (its own magnitudes on random and
  on periodic positions of the same count, :mod:`staa.attacks.staa.controls`) by ASR on the threat model.
  "Positions matter" is claimed only when the generator beats *both* controls; if one control fools as
  many clips, its success comes from how much it perturbs, not from where.
"""

from __future__ import annotations

from typing import Any

from staa.experiment.plans import MASK_CONTROL_SUFFIX, MASK_CONTROLS

AUDIBLE_SNR_DB = 20.0


def audible_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose median SNR is under :data:`AUDIBLE_SNR_DB`: threat, attacker, label, split and that SNR."""
    return [
        {k: r[k] for k in ("threat", "attacker", "label", "split", "snr_db_median")}
        for r in rows
        if r["attack"] != "zero" and r.get("snr_db_median") is not None and r["snr_db_median"] < AUDIBLE_SNR_DB
    ]


def position_readings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per STAA-Net row with mask controls: its threat ASR, each control's, the margins (points) and the verdict."""
    by_key = {(r["threat"], r["attacker"], r["split"]): r for r in rows}
    out = []
    for r in rows:
        if r["attack"] != "staa" or not r["n"]:
            continue
        controls = {kind: by_key.get((r["threat"], f"{r['attacker']}-{kind}{MASK_CONTROL_SUFFIX}", r["split"]))
                    for kind in MASK_CONTROLS}  # fmt: skip
        found = {kind: c for kind, c in controls.items() if c is not None and c["n"]}
        if not found:
            continue
        asr = 100 * r["n_success"] / r["n"]
        margins = {kind: asr - 100 * c["n_success"] / c["n"] for kind, c in found.items()}
        matter = len(found) == len(MASK_CONTROLS) and all(m > 0 for m in margins.values())
        out.append({"threat": r["threat"], "attacker": r["attacker"], "label": r["label"], "split": r["split"],
                    "asr": asr, "margins": margins, "positions_matter": matter,
                    "text": _verdict(r["label"], asr, margins, matter)})  # fmt: skip
    return out


def _verdict(label: str, asr: float, margins: dict[str, float], matter: bool) -> str:
    against = ", ".join(f"{m:+.1f} points against {kind} positions" for kind, m in margins.items())
    if matter:
        return f"{label} ({asr:.1f} % on the threat model): positions matter, it beats both mask controls ({against})."
    if len(margins) < len(MASK_CONTROLS):
        return f"{label} ({asr:.1f} %): not compared with both mask controls ({against}); no claim about positions."
    return f"{label} ({asr:.1f} %): positions not shown to matter, its magnitudes fool as often elsewhere ({against})."
