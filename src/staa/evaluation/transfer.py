"""Transfer evaluation: craft adversarial audio once on a threat model, replay it on every victim.

This is the paper's protocol (§4.3, official-code.md §7): the victim is never queried while crafting,
and an untargeted attack *succeeds on a victim* when the victim's prediction on x_adv differs from its
own prediction on the clean clip (a targeted one when it equals the target). Because each victim is
scored on the very same cached audio, adding a victim or rerunning an evaluation never re-crafts.

Layout of one adversarial set (one threat model × attacker × split)::

    parts/<start>.npz        crafted chunks, each written atomically (resume point after a kill)
    x_adv.npy                (n, L) float32 adversarial clips, rows in the order of ``indices``
    records.json             written last: settings, per-example records and the threat-side summary
    victims/<name>.json      one victim's predictions and rates on this set

Threat-side measures are computed identically for every attack from δ = x_adv − x (never from an
attack's internal variables) and averaged over the examples that succeed *on the threat model*, as
in the paper: SNR (finite values only; δ ≡ 0 and silent clips are counted, not averaged), sparsity
(% of samples with δ ≠ 0), PESQ and STOI. Seconds per example is the attack's crafting wall time alone
(no data loading, no victim evaluation) divided by the number of attacked clips.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.lib.format import open_memmap

from staa.attacks.base import Attack
from staa.errors import DataError
from staa.evaluation.perceptual import Score, score_clips, summarize
from staa.metrics import attack_success_rate, correct_to_wrong_rate, mean_snr, snr_db, sparsity
from staa.models.base import SERModel
from staa.outputs import atomic_path, write_json
from staa.progress import progress
from staa.reproducibility import provenance

ADV_FILE = "x_adv.npy"
RECORDS_FILE = "records.json"


@dataclass
class AdversarialSet:
    """A finished adversarial set: attacked rows of a split, their adversarial audio and records."""

    directory: Path
    indices: np.ndarray
    labels: np.ndarray
    x_adv: np.ndarray
    records: dict[str, Any]

    @property
    def target(self) -> int | None:
        return self.records["target"]

    @property
    def success(self) -> np.ndarray:
        return np.array([e["success"] for e in self.records["examples"]], dtype=bool)

    @classmethod
    def load(cls, directory: str | Path) -> AdversarialSet:
        directory = Path(directory)
        path = directory / RECORDS_FILE
        if not path.exists():
            raise DataError("not a finished adversarial set (records.json missing)", directory)
        records = json.loads(path.read_text())
        examples = records["examples"]
        return cls(
            directory,
            np.array([e["index"] for e in examples], dtype=np.int64),
            np.array([e["label"] for e in examples], dtype=np.int64),
            np.load(directory / ADV_FILE, mmap_mode="r"),
            records,
        )


def is_crafted(directory: str | Path) -> bool:
    return (Path(directory) / RECORDS_FILE).exists()


def craft(
    attack: Attack,
    waves: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    out_dir: str | Path,
    *,
    items: list[dict] | None = None,
    target: int | None = None,
    chunk_size: int = 8,
    seed: int = 0,
    perceptual: bool = True,
    sample_rate: int = 16_000,
    meta: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    show_progress: bool = False,
) -> AdversarialSet:
    """Attack rows ``indices`` of ``waves`` and store the result in ``out_dir`` (skipped if finished).

    Chunks are crafted in order, each under its own seed (``seed`` and the chunk's first row), and
    written atomically, so a killed run resumes at the first missing chunk and ends with the same audio.
    ``meta`` is stored in ``records.json`` as is; ``config`` (the caller's settings) joins the provenance.
    """
    out = Path(out_dir)
    if is_crafted(out):
        return AdversarialSet.load(out)
    parts = out / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    starts = list(range(0, len(indices), chunk_size))
    for start in progress(starts, f"{attack.name}: crafting", show_progress):
        part = parts / f"{start:07d}.npz"
        if part.exists():
            continue
        rows = indices[start : start + chunk_size]
        torch.manual_seed(seed * 1_000_003 + start)
        x = torch.from_numpy(np.asarray(waves[rows], dtype=np.float32))
        result = attack(x, target=target) if attack.targeted else attack(x)
        with atomic_path(part) as tmp:
            np.savez(
                tmp,
                x_adv=result.x_adv.numpy().astype(np.float32),
                clean_pred=result.clean_pred.numpy(),
                adv_pred=result.adv_pred.numpy(),
                success=result.success.numpy(),
                seconds=np.float64(result.seconds),
            )
    records = {
        "attack": attack.name,
        "eps": attack.eps,
        "targeted": attack.targeted,
        "target": target,
        "seed": seed,
        **(meta or {}),
    }
    run_config = {**records, "chunk_size": chunk_size, "perceptual": perceptual, **(config or {})}
    records["provenance"] = provenance(run_config, seed)
    return _finalize(out, starts, waves, labels, indices, items, records, sample_rate if perceptual else None)


def _finalize(
    out: Path,
    starts: list[int],
    waves: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    items: list[dict] | None,
    records: dict[str, Any],
    perceptual_rate: int | None,
) -> AdversarialSet:
    """Assemble the chunks into ``x_adv.npy``, measure every example, write ``records.json`` last.

    Measures are taken chunk by chunk, so memory stays bounded by one chunk of clips.
    """
    parts = [out / "parts" / f"{s:07d}.npz" for s in starts]
    examples: list[dict[str, Any]] = []
    snr, spars, success, scores = [], [], [], {"pesq": [], "stoi": []}
    seconds = 0.0
    with atomic_path(out / ADV_FILE) as tmp:
        x_adv = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(indices), waves.shape[1]))
        for start, part in zip(starts, parts):
            with np.load(part) as chunk:
                adv, ok = chunk["x_adv"], chunk["success"].astype(bool)
                rows = indices[start : start + len(adv)]
                x_adv[start : start + len(adv)] = adv
                clean = np.array(waves[rows], dtype=np.float32)
                delta = torch.from_numpy(adv - clean)
                chunk_snr, chunk_spars = snr_db(torch.from_numpy(clean), delta), sparsity(delta)
                chunk_scores = _perceptual(clean, adv, ok, perceptual_rate) if perceptual_rate else {}
                for j, row in enumerate(rows):
                    record = {
                        "index": int(row),
                        "path": items[row]["path"] if items is not None else None,
                        "label": int(labels[row]),
                        "clean_pred": int(chunk["clean_pred"][j]),
                        "adv_pred": int(chunk["adv_pred"][j]),
                        "success": bool(ok[j]),
                        "snr_db": _finite(float(chunk_snr[j])),
                        "sparsity_pct": float(chunk_spars[j]),
                    }
                    for name, per_clip in chunk_scores.items():
                        record.update(_score_fields(name, per_clip[j]))
                        scores[name].append(per_clip[j])
                    examples.append(record)
                snr.append(chunk_snr)
                spars.append(chunk_spars)
                success.append(torch.from_numpy(ok))
                seconds += float(chunk["seconds"])
        x_adv.flush()
        del x_adv
    records.update(n=len(indices), seconds=seconds, summary=_summary(snr, spars, success, scores, seconds), examples=examples)
    write_json(out / RECORDS_FILE, records)
    for part in parts:
        part.unlink(missing_ok=True)
    (out / "parts").rmdir()
    return AdversarialSet.load(out)


def _score_fields(name: str, score: Score | None) -> dict[str, Any]:
    """A clip's ``pesq``/``stoi`` value (null for clips not scored) and, when it failed, the reason."""
    if score is None:
        return {name: None}
    return {name: score.value, **({f"{name}_reason": score.reason} if score.reason else {})}


def _summary(
    snr: list[torch.Tensor],
    spars: list[torch.Tensor],
    success: list[torch.Tensor],
    scores: dict[str, list[Score | None]],
    seconds: float,
) -> dict[str, Any]:
    """The threat-side row: counts, ASR on the threat model, and means over the successful clips."""
    snr_all, spars_all = torch.cat(snr), torch.cat(spars)
    mask = torch.cat(success)
    n = len(mask)
    snr_summary = mean_snr(snr_all[mask])
    summary = {
        "n": n,
        "n_success": int(mask.sum()),
        "asr_threat": float(mask.double().mean()) if n else None,
        "snr_db": snr_summary.mean_db,
        "snr_excluded": {"zero_perturbation": snr_summary.n_zero_perturbation, "silent": snr_summary.n_silent},
        "sparsity_pct": float(spars_all[mask].mean()) if mask.any() else None,
        "seconds_per_example": seconds / max(1, n),
    }
    if any(scores.values()):
        summary.update({name: summarize(per_clip) for name, per_clip in scores.items()})
    return summary


def _perceptual(clean: np.ndarray, x_adv: np.ndarray, success: np.ndarray, sample_rate: int) -> dict[str, list[Score | None]]:
    """PESQ and STOI of the successful clips (``None`` for the others, which are not averaged)."""
    out: dict[str, list[Score | None]] = {}
    rows = np.nonzero(success)[0]
    for metric in ("pesq", "stoi"):
        per_clip: list[Score | None] = [None] * len(success)
        for j, score in zip(rows, score_clips(clean[rows], x_adv[rows], metric, sample_rate)):
            per_clip[j] = score
        out[metric] = per_clip
    return out


def _finite(v: float) -> float | None:
    """JSON has no inf/NaN: non-finite values are stored as null (the summary counts why)."""
    return v if math.isfinite(v) else None


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

    ``key`` identifies the victim's weights (see :func:`file_fingerprint`); a cached result made with
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
        "correct_to_wrong": _finite(correct_to_wrong_rate(clean_pred, adv_pred, adv.labels)),
        "clean_accuracy": float((clean_pred == adv.labels).mean()),
        "adv_accuracy": float((adv_pred == adv.labels).mean()),
        "clean_pred": clean_pred.tolist(),
        "adv_pred": adv_pred.tolist(),
        "provenance": provenance({"victim": name, "key": key, "adversarial_set": str(adv.directory)}),
    }
    write_json(path, result)
    return result


def transfer_row(adv: AdversarialSet, victims: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One row of the transfer matrix: the threat-side summary plus every victim's rates."""
    s = adv.records["summary"]
    return {
        "n": s["n"],
        "n_success": s["n_success"],
        "snr_db": s["snr_db"],
        "snr_excluded": s["snr_excluded"],
        "sparsity_pct": s["sparsity_pct"],
        "seconds_per_example": s["seconds_per_example"],
        "pesq": s.get("pesq"),
        "stoi": s.get("stoi"),
        "asr": {v: r["asr"] for v, r in victims.items()},
        "correct_to_wrong": {v: r["correct_to_wrong"] for v, r in victims.items()},
        "clean_accuracy": {v: r["clean_accuracy"] for v, r in victims.items()},
        "adv_accuracy": {v: r["adv_accuracy"] for v, r in victims.items()},
    }


def file_fingerprint(path: str | Path) -> str:
    """Short SHA-256 of a file (a checkpoint's weights): the identity victims are cached under."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
