"""Any attack on audio files (one file or a folder of them) into ``records.json``, the format of every set.

What ``staa attack NAME --input FILE|DIR`` calls. Files keep their own lengths, so each clip is its own
batch, and nothing is labelled: success is a flip of the model's clean prediction (or the target
reached). ``records.json`` has the keys of a crafted split's (:mod:`staa.evaluation.adversarial_set`):
the attack, ε, target, seed, classes, the per-example records (``index``, ``path``, ``label`` — null
here —, predictions, ``success``, ``snr_db``, ``sparsity_pct``), the summary of
:func:`~staa.evaluation.adversarial_set.crafted_summary` and the provenance; the adversarial clips are
``wav/<name>.wav`` (16 kHz mono 32-bit float). The folder is claimed for the attack's settings first,
so a rerun with other settings is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from staa.attacks.base import Attack
from staa.attacks.staa.export import WAV_DIR, clip_batches, export_adversarial
from staa.evaluation.adversarial_set import RECORDS_FILE, crafted_summary, finite_or_none
from staa.io.outputs import claimed, write_json
from staa.io.weights import fingerprint
from staa.runtime.reproducibility import provenance

FILE_OUTPUTS = (RECORDS_FILE, WAV_DIR)


def attack_files(
    attack: Attack,
    clips: list[tuple[str, Path]],
    out: Path,
    *,
    target: int | None,
    seed: int,
    classes: list[str],
    config: dict[str, Any],
    identity: dict[str, Any],
    show_progress: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Attack every ``(name, file)`` of ``clips`` into ``out`` (``wav/``, ``records.json``); the records.

    ``config`` (the caller's settings) joins the provenance; ``identity`` (the options, files recorded by
    content) and the weights' fingerprint identify the claim on ``out``.
    """
    names = hashlib.sha256("\n".join(n for n, _ in clips).encode("utf-8")).hexdigest()[:16]
    spec = {"attack": attack.name, "eps": attack.eps, "model": fingerprint(attack.model), "target": target,
            "seed": seed, "inputs": {"n": len(clips), "names": names}, "options": identity}  # fmt: skip
    with claimed(out, spec, outputs=FILE_OUTPUTS, overwrite=overwrite):
        torch.manual_seed(seed)
        raw = export_adversarial(attack, clip_batches(clips), out, target=target, total=len(clips),
                                 show_progress=show_progress)  # fmt: skip
        summary = crafted_summary(
            torch.tensor([e["success"] for e in raw], dtype=torch.bool),
            torch.tensor([e["snr_db"] for e in raw], dtype=torch.float64),
            torch.tensor([e["sparsity"] for e in raw], dtype=torch.float64),
            seconds=sum(e["seconds"] for e in raw),
        )  # fmt: skip
        summary.update(mask_jaccard=None, mask_periodicity=None)  # masks of clips of different lengths: not compared
        examples = [
            {"index": i, "path": str(path), "label": None, "clean_pred": e["clean_pred"], "adv_pred": e["adv_pred"],
             "success": e["success"], "snr_db": finite_or_none(e["snr_db"]), "sparsity_pct": e["sparsity"]}
            for i, ((_, path), e) in enumerate(zip(clips, raw))
        ]  # fmt: skip
        records = {"attack": attack.name, "eps": attack.eps, "targeted": attack.targeted, "target": target,
                   "seed": seed, "classes": list(classes)}  # fmt: skip
        records["provenance"] = provenance({**records, **config}, seed)
        records.update(n=len(examples), seconds=summary["seconds_per_example"] * len(examples), summary=summary,
                       examples=examples)  # fmt: skip
        write_json(out / RECORDS_FILE, records)
    return records
