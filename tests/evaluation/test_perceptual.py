"""PESQ and STOI: values on hand-made clips, and a reason instead of a crash or a made-up number."""

from __future__ import annotations

import numpy as np
import pytest

from staa.evaluation import perceptual
from staa.evaluation.perceptual import Score, pesq_wb, score_clips, stoi, summarize

SR = 16_000


def _speechlike(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """A 150 Hz harmonic tone with syllable-rate amplitude modulation and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * 150 * h * t) / h for h in range(1, 8))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    return (0.3 * tone * envelope / 2.6 + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def test_pesq_is_maximal_for_identical_audio_and_drops_with_noise():
    pytest.importorskip("pesq")
    x = _speechlike()
    same = pesq_wb(x, x)
    assert same.reason is None and same.value == pytest.approx(4.64, abs=0.01)
    noisy = pesq_wb(x, x + 0.05 * np.random.default_rng(1).standard_normal(len(x)).astype(np.float32))
    very_noisy = pesq_wb(x, x + 0.2 * np.random.default_rng(1).standard_normal(len(x)).astype(np.float32))
    assert 1.0 <= very_noisy.value < noisy.value < same.value


def test_stoi_is_one_for_identical_audio_and_drops_with_noise():
    pytest.importorskip("pystoi")
    x = _speechlike()
    assert stoi(x, x).value == pytest.approx(1.0, abs=1e-6)
    noisy = stoi(x, x + 0.3 * np.random.default_rng(2).standard_normal(len(x)).astype(np.float32))
    assert noisy.reason is None and 0 < noisy.value < 0.95


def test_silent_reference_gives_a_reason_not_a_number():
    silent = np.zeros(SR, dtype=np.float32)
    for metric in (pesq_wb, stoi):
        score = metric(silent, silent + 0.01)
        assert score.value is None and score.reason  # "silent reference clip", or the package is missing


def test_pesq_failures_become_reasons():
    pytest.importorskip("pesq")
    x = _speechlike(0.2)  # PESQ needs at least 0.25 s
    score = pesq_wb(x, x)
    assert score.value is None and "pesq failed" in score.reason and "1/4" in score.reason
    assert pesq_wb(_speechlike(), _speechlike(), sample_rate=8_000).reason.startswith("wideband PESQ needs 16000 Hz")


def test_missing_packages_are_reported(monkeypatch):
    monkeypatch.setattr(perceptual, "_module", lambda name: None)
    x = _speechlike(0.5)
    for metric, package in ((pesq_wb, "pesq"), (stoi, "pystoi")):
        score = metric(x, x)
        assert score.value is None and score.reason == f"{package} not installed (pip install 'staa[perceptual]')"


def test_score_clips_scores_each_row():
    pytest.importorskip("pystoi")
    x = np.stack([_speechlike(seed=0), np.zeros(2 * SR, dtype=np.float32)])
    scores = score_clips(x, x, "stoi")
    assert scores[0].value == pytest.approx(1.0, abs=1e-6) and scores[1].reason == "silent reference clip"


def test_summarize_averages_values_and_counts_reasons():
    scores = [Score(4.0), Score(2.0), Score(None, "silent reference clip"), None, Score(None, "silent reference clip")]
    assert summarize(scores) == {"mean": 3.0, "n": 2, "n_failed": 2, "reasons": {"silent reference clip": 2}}
    assert summarize([None, None]) == {"mean": None, "n": 0, "n_failed": 0, "reasons": {}}
