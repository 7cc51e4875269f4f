"""The adversarial-set store: craft an attack's clips once, in resumable chunks, and keep them on disk.

An adversarial set is one attack on chosen rows of one split (one threat model × attacker × split in an
experiment; one ``staa attack run``). :func:`craft_adversarial_set` writes it, :class:`AdversarialSet`
reads it back, and :mod:`staa.evaluation.transfer` replays it on victims. Layout of a set's folder::

    parts/<start>.npz        crafted chunks, each written atomically (resume point after a kill)
    x_adv.npy                (n, L) float32 adversarial clips, rows in the order of ``indices``
    records.json             written last: settings, per-example records and the threat-side summary
    victims/<name>.json      one victim's predictions and rates on this set (:mod:`~staa.evaluation.transfer`)

Threat-side measures are computed identically for every attack from δ = x_adv − x (never from an
attack's internal variables) and averaged over the examples that succeed *on the threat model*, as
in the paper: SNR (finite values only; δ ≡ 0 and silent clips are counted, not averaged), sparsity
(% of samples with δ ≠ 0), PESQ and STOI. Seconds per example is the attack's crafting wall time alone
(no data loading, no victim evaluation) divided by the number of attacked clips. :func:`crafted_summary`
is that summary; ``staa generator apply`` reports its clips with it too, so every crafted set, whichever
command made it, is summarised under the same names (``n_success``, ``asr_threat``, ``sparsity_pct``, ...).
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
from staa.attacks.budget import budget_claim, eps_to_db
from staa.errors import DataError
from staa.evaluation.perceptual import Score, score_clips, summarize
from staa.io.outputs import atomic_path, write_json
from staa.metrics import mask_jaccard, mask_periodicity, mean_snr, median_snr, snr_db, sparsity
from staa.runtime.progress import progress
from staa.runtime.reproducibility import provenance

ADV_FILE = "x_adv.npy"
RECORDS_FILE = "records.json"
JACCARD_CLIPS = 64  # clips compared pairwise for the mask Jaccard overlap (memory: 64 masks)


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

    def delta_measures(self, waves: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-clip SNR (dB) and sparsity (%) of δ = x_adv − x, recomputed from the audio and the clean ``waves``."""
        clean = torch.from_numpy(np.asarray(waves[self.indices], dtype=np.float32))
        delta = torch.from_numpy(np.array(self.x_adv, dtype=np.float32)) - clean
        return snr_db(clean, delta), sparsity(delta)

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


def craft_adversarial_set(
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
                eps=result.eps.numpy(),
                seconds=np.float64(result.seconds),
            )
    records = {
        "attack": attack.name,
        **budget_claim({"eps": attack.eps, "eps_db": attack.eps_db}),
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

    Measures are taken chunk by chunk, so memory stays bounded by one chunk of clips — except the mask
    Jaccard overlap, which compares clips with each other: it is taken over the first
    :data:`JACCARD_CLIPS` clips of the set.
    """
    parts = [out / "parts" / f"{s:07d}.npz" for s in starts]
    examples: list[dict[str, Any]] = []
    snr, spars, success, bounds, scores = [], [], [], [], {"pesq": [], "stoi": []}
    periodicity, masks = [], []
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
                chunk_eps = (
                    torch.from_numpy(chunk["eps"]) if "eps" in chunk.files else None
                )  # parts of older runs: none
                chunk_eps_db = None if chunk_eps is None else eps_to_db(torch.from_numpy(clean), chunk_eps)
                periodicity.append(mask_periodicity(delta))
                masks.append((delta[: max(0, JACCARD_CLIPS - sum(len(m) for m in masks))] != 0).float())
                chunk_scores = _perceptual(clean, adv, ok, perceptual_rate) if perceptual_rate else {}
                for j, row in enumerate(rows):
                    record = {
                        "index": int(row),
                        "path": items[row]["path"] if items is not None else None,
                        "label": int(labels[row]),
                        "clean_pred": int(chunk["clean_pred"][j]),
                        "adv_pred": int(chunk["adv_pred"][j]),
                        "success": bool(ok[j]),
                        "snr_db": finite_or_none(float(chunk_snr[j])),
                        "sparsity_pct": float(chunk_spars[j]),
                        **(
                            {}
                            if chunk_eps is None
                            else {"eps": float(chunk_eps[j]), "eps_db": finite_or_none(float(chunk_eps_db[j]))}
                        ),
                    }
                    for name, per_clip in chunk_scores.items():
                        record.update(_score_fields(name, per_clip[j]))
                        scores[name].append(per_clip[j])
                    examples.append(record)
                snr.append(chunk_snr)
                spars.append(chunk_spars)
                bounds.extend([] if chunk_eps is None else zip(chunk_eps.tolist(), chunk_eps_db.tolist()))
                success.append(torch.from_numpy(ok))
                seconds += float(chunk["seconds"])
        x_adv.flush()
        del x_adv
    summary = crafted_summary(torch.cat(success), torch.cat(snr), torch.cat(spars), seconds, scores)
    summary.update(budget_summary(bounds))
    per_clip = torch.cat(periodicity)
    summary["mask_jaccard"] = finite_or_none(mask_jaccard(torch.cat(masks)))
    summary["mask_periodicity"] = finite_or_none(float(per_clip.nanmean())) if (~per_clip.isnan()).any() else None
    records.update(n=len(indices), seconds=seconds, summary=summary, examples=examples)
    write_json(out / RECORDS_FILE, records)
    for part in parts:
        part.unlink(missing_ok=True)
    (out / "parts").rmdir()
    return AdversarialSet.load(out)


def budget_summary(bounds: list[tuple[float, float]]) -> dict[str, float | None]:
    """Medians over the clips of the absolute ε and of the relative ε in dB they were attacked under."""
    if not bounds:
        return {"eps_median": None, "eps_db_median": None}
    eps, eps_db = np.array(bounds, dtype=np.float64).T
    finite = eps_db[np.isfinite(eps_db)]
    return {"eps_median": float(np.median(eps)), "eps_db_median": float(np.median(finite)) if finite.size else None}


def _score_fields(name: str, score: Score | None) -> dict[str, Any]:
    """A clip's ``pesq``/``stoi`` value (null for clips not scored) and, when it failed, the reason."""
    if score is None:
        return {name: None}
    return {name: score.value, **({f"{name}_reason": score.reason} if score.reason else {})}


def crafted_summary(
    success: torch.Tensor,
    snr: torch.Tensor,
    sparsity_pct: torch.Tensor,
    seconds: float,
    scores: dict[str, list[Score | None]] | None = None,
) -> dict[str, Any]:
    """The threat-side summary of crafted clips: counts, ASR on the threat model, means over successes.

    ``success`` (bool), ``snr`` (dB) and ``sparsity_pct`` are per clip; ``seconds`` is the total crafting
    time; ``scores`` the per-clip PESQ/STOI, if they were computed (docs/results-schema.md, records.json).
    """
    mask = torch.as_tensor(success).bool()
    n = len(mask)
    snr_summary = mean_snr(snr[mask])
    summary = {
        "n": n,
        "n_success": int(mask.sum()),
        "asr_threat": float(mask.double().mean()) if n else None,
        "snr_db": snr_summary.mean_db,
        "snr_db_median": median_snr(snr[mask]),
        "snr_excluded": {"zero_perturbation": snr_summary.n_zero_perturbation, "silent": snr_summary.n_silent},
        "sparsity_pct": float(sparsity_pct[mask].mean()) if mask.any() else None,
        "seconds_per_example": seconds / max(1, n),
    }
    if scores and any(scores.values()):
        summary.update({name: summarize(per_clip) for name, per_clip in scores.items()})
    return summary


def _perceptual(
    clean: np.ndarray, x_adv: np.ndarray, success: np.ndarray, sample_rate: int
) -> dict[str, list[Score | None]]:
    """PESQ and STOI of the successful clips (``None`` for the others, which are not averaged)."""
    out: dict[str, list[Score | None]] = {}
    rows = np.nonzero(success)[0]
    for metric in ("pesq", "stoi"):
        per_clip: list[Score | None] = [None] * len(success)
        for j, score in zip(rows, score_clips(clean[rows], x_adv[rows], metric, sample_rate)):
            per_clip[j] = score
        out[metric] = per_clip
    return out


def finite_or_none(v: float) -> float | None:
    """JSON has no inf/NaN: non-finite values are stored as null (the summary counts why)."""
    return v if math.isfinite(v) else None


def file_fingerprint(path: str | Path) -> str:
    """Short SHA-256 of a file (a checkpoint's weights): the identity victims are cached under."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
