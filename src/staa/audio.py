"""Audio front end: read, down-mix, resample, unify length, write.

Everything downstream works on mono float32 waveforms in [-1, 1] at 16 kHz. Resampling is polyphase
(``scipy.signal.resample_poly``) because it is exact for the integer rate ratios of speech corpora
(48k/44.1k/22.05k/8k → 16k) and needs no extra dependency.
"""

from __future__ import annotations

import math
import os
import warnings
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from staa.errors import AudioError, first_line
from staa.io.outputs import atomic_path

if TYPE_CHECKING:
    from torch import Tensor

SAMPLE_RATE = 16_000
DC_OFFSET_LIMIT = 0.1  # |mean sample| of a clip beyond which it is far from centred speech (a warning)


def resample(x: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling of a 1-D signal from ``orig_sr`` to ``target_sr`` (float32 out)."""
    if orig_sr <= 0 or target_sr <= 0:
        raise AudioError(f"invalid sample rate {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return np.asarray(x, dtype=np.float32)
    ratio = Fraction(target_sr, orig_sr).limit_denominator(1000)
    y = resample_poly(np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator)
    return y.astype(np.float32)


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average channels: (N,) or (N, C) → (N,)."""
    return x if x.ndim == 1 else x.mean(axis=1)


def check_waveform(x: np.ndarray, path: str | Path | None = None, *, allow_silent: bool = False) -> None:
    """Raise :class:`AudioError` for empty, non-finite or (unless allowed) all-zero audio."""
    if x.size == 0:
        raise AudioError("empty audio (0 samples)", path)
    if not np.all(np.isfinite(x)):
        raise AudioError("audio contains NaN or infinite samples", path)
    if not allow_silent and not np.any(x):
        raise AudioError("silent audio (all samples are zero)", path)


def check_audio_file(path: str | Path) -> Path:
    """``path`` if it is a non-empty file this process may read; one line saying which it is not otherwise.

    Checked before soundfile sees the file, whose message for an unreadable file is "System error".
    """
    path = Path(path)
    if not path.exists():
        raise AudioError("file not found", path)
    if path.is_dir():
        raise AudioError("is a folder, not an audio file", path)
    if not path.is_file():
        raise AudioError("not a regular file (a device, pipe or socket)", path)
    if not os.access(path, os.R_OK):
        raise AudioError("cannot read the file (permission denied)", path)
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)", path)
    return path


def load_audio(
    path: str | Path,
    sample_rate: int = SAMPLE_RATE,
    *,
    allow_silent: bool = False,
    max_seconds: float | None = None,
) -> np.ndarray:
    """Read a WAV/FLAC/OGG file as mono float32 at ``sample_rate``, values within [-1, 1].

    Repairs, each documented because it changes the data:

    * channels are averaged (stereo and multichannel down-mix);
    * any rate is resampled to ``sample_rate`` (polyphase);
    * integer PCM of any width (8/16/24/32 bit) is scaled by soundfile to [-1, 1); float files that
      exceed that range (some editors overshoot) are clipped to [-1, 1] with a warning naming the file;
    * a clip far from what the models were built for is kept but named in a warning: a DC offset (mean
      sample) beyond :data:`DC_OFFSET_LIMIT`;
    * a truncated file yields the complete frames it holds (the header's length is not trusted);
    * ``max_seconds`` reads only the head of very long files, all that length unification keeps.

    Everything else that makes a clip unusable (missing, empty, a folder, not audio, NaN/inf samples,
    silence unless ``allow_silent``) raises :class:`AudioError` naming the file.
    """
    path = check_audio_file(path)
    try:
        info = sf.info(str(path))
        frames = -1
        if max_seconds is not None:
            frames = int(math.ceil(max_seconds * info.samplerate))
        data, sr = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(f"not a readable audio file ({first_line(exc)})", path) from None
    x = to_mono(data)
    check_waveform(x, path, allow_silent=allow_silent)
    peak = float(np.abs(x).max())
    if peak > 1.0:
        warnings.warn(f"{path}: peak amplitude {peak:.3g} exceeds 1; clipped to [-1, 1]", stacklevel=2)
    offset = float(x.mean(dtype=np.float64))
    if abs(offset) > DC_OFFSET_LIMIT:
        warnings.warn(f"{path}: DC offset {offset:+.2f} (the mean sample); the models were trained on centred "
                      "speech, so their predictions on this clip may mean little (remove the offset first)", stacklevel=2)  # fmt: skip
    x = resample(x, sr, sample_rate)
    return np.clip(x, -1.0, 1.0).astype(np.float32, copy=False)


def load_clip(path: str | Path, *, max_seconds: float | None = None) -> Tensor:
    """One audio file as the (1, N) float32 tensor at 16 kHz that every attack and model takes.

    :func:`load_audio` (down-mixed, resampled, checked; errors are one line naming the file) with a batch
    axis: ``staa.SparsePGD(model, eps=0.05, k_percent=10)(staa.load_clip("clip.wav"))``.
    """
    import torch

    return torch.from_numpy(load_audio(path, max_seconds=max_seconds))[None]


def unify_length(x: np.ndarray, length: int) -> np.ndarray:
    """Tile shorter clips cyclically up to ``length`` and truncate longer ones to their head.

    This is the paper's rule (DEMoS 6.0 s by repetition, IEMOCAP 8.7 s by repetition/truncation).
    """
    if length <= 0:
        raise ValueError(f"target length must be positive, got {length}")
    if x.shape[-1] == 0:
        raise AudioError("cannot unify the length of an empty clip")
    n = x.shape[-1]
    if n >= length:
        return x[..., :length]
    reps = length // n + 1
    return np.tile(x, reps)[..., :length]


def write_audio(path: str | Path, x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono float audio as 32-bit float WAV (lossless for perturbations of 1e-4 and below).

    The file appears atomically (temporary name + rename) so a killed run leaves no half-written WAV.
    """
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), x, sample_rate, subtype="FLOAT", format="WAV")
