"""Apply a trained generator to clips and export the adversarial WAVs with a per-example record.

Clips come in named batches, either rows of a prepared split (equal length, batched) or the audio
files of a folder (each its own length, one per batch, which the generator supports). Each
adversarial clip is written as 32-bit float WAV (lossless for tiny perturbations) under its name; the
record lists per-example success, predictions, SNR, sparsity and crafting time, plus the summary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from staa.attacks.staa.attack import STAANet
from staa.audio import SAMPLE_RATE, load_audio, write_audio
from staa.data.cache import Split
from staa.errors import DataError
from staa.metrics import mean_snr
from staa.progress import progress

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def split_batches(split: Split, batch_size: int) -> Iterator[tuple[list[str], Tensor]]:
    """Rows of a prepared split, named by index and source (``00012_spk03_anger_1``)."""
    for start in range(0, len(split), batch_size):
        rows = range(start, min(start + batch_size, len(split)))
        names = [f"{i:05d}_{_safe(split.items[i]['path'])}" for i in rows]
        yield names, torch.from_numpy(np.asarray(split.waves[list(rows)], dtype=np.float32))


def folder_batches(folder: str | Path) -> Iterator[tuple[list[str], Tensor]]:
    """Every audio file under ``folder`` (recursively, sorted), one clip per batch at 16 kHz."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DataError("no .wav/.flac/.ogg files found", folder)
    for path in files:
        yield [_safe(str(path.relative_to(folder).with_suffix("")))], torch.from_numpy(load_audio(path))[None]


def export_adversarial(
    attack: STAANet,
    batches: Iterable[tuple[list[str], Tensor]],
    out_dir: str | Path,
    *,
    target: int | None = None,
    total: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Attack every batch, write ``OUT/<name>.wav``, return per-example records and their summary.

    ``target`` is the class of a targeted attack (success = landing on it); untargeted success is a
    flip of the model's clean prediction.
    """
    out = Path(out_dir)
    examples: list[dict[str, Any]] = []
    for names, x in progress(batches, "generate", show_progress, total=total):
        result = attack(x, target=target)
        per_clip = result.seconds_per_example
        for i, name in enumerate(names):
            write_audio(out / f"{name}.wav", result.x_adv[i].numpy(), SAMPLE_RATE)
            examples.append(
                {
                    "name": name,
                    "samples": int(x.shape[-1]),
                    "clean_pred": int(result.clean_pred[i]),
                    "adv_pred": int(result.adv_pred[i]),
                    "success": bool(result.success[i]),
                    "snr_db": float(result.snr_db[i]),
                    "sparsity": float(result.sparsity[i]),
                    "seconds": per_clip,
                }
            )
    return {"summary": summarise(examples), "examples": examples}


def summarise(examples: list[dict[str, Any]]) -> dict[str, Any]:
    """ASR (share of successes) over all clips; sparsity and SNR means over successful ones (the paper)."""
    success = np.array([e["success"] for e in examples], dtype=bool)
    snr = mean_snr(torch.tensor([e["snr_db"] for e in examples], dtype=torch.float64)[torch.from_numpy(success)])
    spars = np.array([e["sparsity"] for e in examples])
    return {
        "n": len(examples),
        "successes": int(success.sum()),
        "asr": float(success.mean()),
        "sparsity_mean": float(spars[success].mean()) if success.any() else None,
        "sparsity_mean_all": float(spars.mean()),
        "snr_db_mean": snr.mean_db,
        "snr_excluded_zero_perturbation": snr.n_zero_perturbation,
        "seconds_per_example": float(np.mean([e["seconds"] for e in examples])),
    }


def _safe(name: str) -> str:
    """A file-name-safe version of a path or URI (``synthetic://spk03/anger/1`` → ``spk03_anger_1``)."""
    name = re.sub(r"^[a-z]+://", "", name)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "clip"
