"""Perceptual quality of adversarial audio: wideband PESQ (ITU-T P.862.2) and STOI.

SNR (in :mod:`staa.metrics`) only sees the peak of δ; PESQ and STOI compare what a listener would hear.
Both come from optional packages (``pip install 'staa[perceptual]'``: ``pesq`` and ``pystoi``) that are
imported only when a score is asked for. A score that cannot be computed is never a crash and never a
made-up number: it is ``None`` together with the reason (package missing, silent reference, clip too
short, PESQ finding no utterance), and summaries count those reasons.

Scores are computed per clip on the whole unified clip, clean clip as reference, adversarial clip as
the degraded signal. Wideband PESQ is defined at 16 kHz only, the sample rate of every prepared corpus.
"""

from __future__ import annotations

import importlib
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

PESQ_RATE = 16_000


@dataclass(frozen=True)
class Score:
    """One clip's score, or ``None`` and the reason it could not be computed."""

    value: float | None
    reason: str | None = None


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _missing(package: str) -> Score:
    return Score(None, f"{package} not installed (pip install 'staa[perceptual]')")


def _silent(reference: np.ndarray) -> bool:
    return not np.any(reference)


def pesq_wb(clean: np.ndarray, adversarial: np.ndarray, sample_rate: int = PESQ_RATE) -> Score:
    """Wideband PESQ (MOS-LQO, about 1.0–4.64) of ``adversarial`` against ``clean``."""
    module = _module("pesq")
    if module is None:
        return _missing("pesq")
    if sample_rate != PESQ_RATE:
        return Score(None, f"wideband PESQ needs {PESQ_RATE} Hz audio, got {sample_rate} Hz")
    ref, deg = np.asarray(clean, dtype=np.float32), np.asarray(adversarial, dtype=np.float32)
    if _silent(ref):
        return Score(None, "silent reference clip")
    try:
        return Score(float(module.pesq(sample_rate, ref, deg, "wb")))
    except module.PesqError as exc:  # no utterance found, clip under 0.25 s, ...
        return Score(None, f"pesq failed: {_message(exc)}")


def stoi(clean: np.ndarray, adversarial: np.ndarray, sample_rate: int = PESQ_RATE) -> Score:
    """Short-time objective intelligibility (0–1) of ``adversarial`` against ``clean``."""
    module = _module("pystoi")
    if module is None:
        return _missing("pystoi")
    ref, deg = np.asarray(clean, dtype=np.float64), np.asarray(adversarial, dtype=np.float64)
    if _silent(ref):
        return Score(None, "silent reference clip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(module.stoi(ref, deg, sample_rate, extended=False))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return Score(None, "clip too short for STOI (fewer than 30 frames of speech)")
    return Score(value)


def _message(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    return text.decode() if isinstance(text, bytes) else str(text)


METRICS: dict[str, Callable[[np.ndarray, np.ndarray, int], Score]] = {"pesq": pesq_wb, "stoi": stoi}


def score_clips(clean: np.ndarray, adversarial: np.ndarray, metric: str, sample_rate: int = PESQ_RATE) -> list[Score]:
    """Score each row of two (B, N) arrays with the named metric (``pesq`` or ``stoi``)."""
    fn = METRICS[metric]
    return [fn(c, a, sample_rate) for c, a in zip(clean, adversarial)]


def summarize(scores: Sequence[Score | None]) -> dict[str, Any]:
    """Mean over the clips that have a value, with how many had one and why the others did not.

    ``None`` entries (clips that were not scored, e.g. unsuccessful examples) are ignored entirely.
    """
    scored = [s for s in scores if s is not None]
    values = [s.value for s in scored if s.value is not None]
    reasons = Counter(s.reason for s in scored if s.value is None)
    return {
        "mean": float(np.mean(values)) if values else None,
        "n": len(values),
        "n_failed": sum(reasons.values()),
        "reasons": dict(reasons),
    }
