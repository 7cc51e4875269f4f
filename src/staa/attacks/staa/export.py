"""Apply a trained generator to clips and export the adversarial WAVs with a per-example record.

Clips come in named batches, either rows of a prepared split (equal length, batched) or the audio
files of a folder (each its own length, one per batch, which the generator supports). Each
adversarial clip is written as a 16 kHz mono 32-bit float WAV (lossless for tiny perturbations) to
``wav/<name>.wav``; the record lists per-example success, predictions, SNR, sparsity and crafting time.

A folder is checked whole before anything is written (:func:`folder_clips`): every file is decoded
once, and a file that cannot be used, is longer than ``max_seconds`` (a clip is never cut: the
generator ranks the positions of the whole clip) or shorter than the victim accepts stops the run
in one line naming it. Output names keep the folder's tree and are distinct by construction:
``sub/good.wav`` → ``wav/sub/good.wav``, while another format keeps its suffix (``good.flac`` →
``wav/good.flac.wav``), so ``good.wav``, ``good.flac``, ``good.ogg``, ``sub/good.wav`` and
``sub_good.wav`` give five files. Names are kept as they are, non-ASCII letters included; two names
that differ only in case (one file on a case-insensitive disk) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from staa.attacks.base import Attack
from staa.audio import SAMPLE_RATE, check_audio_file, load_audio, write_audio
from staa.data.cache import Split
from staa.errors import AudioError, DataError, first_line
from staa.io.outputs import inputs_apart, remove_empty_folders
from staa.runtime.progress import progress

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
WAV_DIR = "wav"


def split_batches(split: Split, batch_size: int) -> Iterator[tuple[list[str], Tensor]]:
    """Rows of a prepared split, named by index and source (``00012_spk03_anger_1``)."""
    for start in range(0, len(split), batch_size):
        rows = range(start, min(start + batch_size, len(split)))
        names = [f"{i:05d}_{_safe(split.items[i]['path'])}" for i in rows]
        yield names, torch.from_numpy(np.asarray(split.waves[list(rows)], dtype=np.float32))


def output_name(relative: PurePath) -> str:
    """The output name of a file of an input folder (its relative path; see the module docstring)."""
    return relative.with_suffix("").as_posix() if relative.suffix.lower() == ".wav" else relative.as_posix()


def folder_clips(
    folder: str | Path, out: str | Path, *, max_seconds: float, min_samples: int
) -> list[tuple[str, Path]]:
    """(output name, file) of every audio file under ``folder``, all checked before any work is done.

    ``out``, the output folder, may not lie inside ``folder``: a second run would take its WAVs for inputs.
    """
    folder = Path(folder)
    if not folder.exists():
        raise DataError("input folder not found", folder)
    if not folder.is_dir():
        raise DataError("not a folder (--input-dir takes a folder of audio files)", folder)
    if Path(out).resolve() == folder.resolve() or folder.resolve() in Path(out).resolve().parents:
        raise DataError(f"the output folder {out} lies inside it: give one outside the inputs", folder)
    inputs_apart(out, [folder])  # nor may it hold the inputs: their outputs would land among them
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DataError(f"no {', '.join(AUDIO_SUFFIXES)} files in this folder or below it", folder)
    seen: dict[str, Path] = {}
    clips = []
    for path in files:
        name = output_name(path.relative_to(folder))
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise AudioError("file name is not valid UTF-8 (rename the file)", path) from None
        if name.casefold() in seen:
            raise DataError(f"would be written to the same output as {seen[name.casefold()]} "
                            "(names differ only in case)", path)  # fmt: skip
        seen[name.casefold()] = path
        _check_clip(path, max_seconds, min_samples)
        clips.append((name, path))
    return clips


def input_clips(path: str | Path, out: str | Path, *, max_seconds: float, min_samples: int) -> list[tuple[str, Path]]:
    """(output name, file) of one audio file, or of every file of a folder (:func:`folder_clips`), checked alike."""
    path = Path(path)
    if path.is_dir():
        return folder_clips(path, out, max_seconds=max_seconds, min_samples=min_samples)
    inputs_apart(out, [path])  # the output folder may not hold the file it attacks
    check_audio_file(path)
    _check_clip(path, max_seconds, min_samples)
    return [(output_name(PurePath(path.name)), path)]


def _check_clip(path: Path, max_seconds: float, min_samples: int) -> None:
    """Refuse a file that is too long (from its header, before decoding), unusable or too short."""
    if path.is_file():
        check_audio_file(path)
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            raise AudioError(f"not a readable audio file ({first_line(exc)})", path) from None
        if info.samplerate > 0 and info.frames / info.samplerate > max_seconds:
            raise AudioError(f"{info.frames / info.samplerate:.1f} s long, beyond the {max_seconds:g} s taken in one "
                             "piece (--max-seconds; cut the file or raise the limit, memory grows with length)", path)  # fmt: skip
    samples = len(load_audio(path))
    if samples < min_samples:
        raise AudioError(f"{samples} samples at 16 kHz, shorter than the {min_samples} the model needs", path)


def clip_batches(clips: list[tuple[str, Path]]) -> Iterator[tuple[list[str], Tensor]]:
    """The clips of :func:`folder_clips`, one per batch at 16 kHz."""
    for name, path in clips:
        yield [name], torch.from_numpy(load_audio(path))[None]


def export_adversarial(
    attack: Attack,
    batches: Iterable[tuple[list[str], Tensor]],
    out_dir: str | Path,
    *,
    target: int | None = None,
    total: int | None = None,
    show_progress: bool = True,
) -> list[dict[str, Any]]:
    """Attack every batch, write ``OUT/wav/<name>.wav``, return the per-example records.

    ``target`` is the class of a targeted attack (success = landing on it); untargeted success is a
    flip of the model's clean prediction. If anything fails midway, the WAVs written so far are removed,
    so no WAV is left without the record that describes it.
    """
    out = Path(out_dir)
    examples: list[dict[str, Any]] = []
    written: list[Path] = []
    try:
        for names, x in progress(batches, "generate", show_progress, total=total):
            result = attack(x, target=target)
            for i, name in enumerate(names):
                path = out / WAV_DIR / f"{name}.wav"
                write_audio(path, result.x_adv[i].numpy(), SAMPLE_RATE)
                written.append(path)
                examples.append(
                    {
                        "name": name,
                        "samples": int(x.shape[-1]),
                        "clean_pred": int(result.clean_pred[i]),
                        "adv_pred": int(result.adv_pred[i]),
                        "success": bool(result.success[i]),
                        "snr_db": float(result.snr_db[i]),
                        "sparsity": float(result.sparsity[i]),
                        "seconds": result.seconds_per_example,
                    }
                )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if (out / WAV_DIR).is_dir():
            remove_empty_folders(out / WAV_DIR)
        raise
    return examples


def _safe(name: str) -> str:
    """A file-name-safe version of a path or URI (``synthetic://spk03/anger/1`` → ``spk03_anger_1``)."""
    name = re.sub(r"^[a-z]+://", "", name)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "clip"
