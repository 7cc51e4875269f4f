"""The synthetic corpus: deterministic, speaker-independent, in range, and its emotions sound as specified.

Pitch, tempo and brightness are measured from the generated audio with plain signal processing (an
autocorrelation F0 estimate, voiced-run counting, a spectral balance), not read back from the generator.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from staa.audio import SAMPLE_RATE
from staa.data.synthetic import EMOTIONS, PROSODY, SyntheticCorpus

SR = SAMPLE_RATE
FRAME, HOP = 640, 160  # 40 ms frames, 10 ms hop


@pytest.fixture(scope="module")
def corpus() -> SyntheticCorpus:
    """8 speakers × 7 emotions × 3 clips of 2 s: enough clips for stable per-emotion averages."""
    return SyntheticCorpus(n_speakers=8, per_emotion=3, seconds=2.0, seed=0)


@pytest.fixture(scope="module")
def audio(corpus: SyntheticCorpus) -> dict[tuple[str, str], list[np.ndarray]]:
    """Generated clips grouped by (speaker, emotion)."""
    out: dict[tuple[str, str], list[np.ndarray]] = {}
    for item in corpus.items():
        out.setdefault((item.speaker, item.label), []).append(corpus.read(item))
    return out


def frames(x: np.ndarray, frame: int = FRAME, hop: int = HOP) -> np.ndarray:
    n = 1 + (len(x) - frame) // hop
    return np.stack([x[i * hop : i * hop + frame] for i in range(n)])


def median_f0(x: np.ndarray) -> float:
    """Median F0 (60–600 Hz) over the loud frames of a clip, from the autocorrelation à la YIN.

    The difference function d(τ) = 2·(r(0) − r(τ)) is normalised by its running mean and the first dip
    below 0.1 is taken, which avoids the formant-driven octave errors of a plain autocorrelation peak.
    """
    fr = frames(x)
    rms = np.sqrt((fr**2).mean(axis=1))
    voiced = fr[rms > 0.3 * rms.max()]
    voiced = voiced - voiced.mean(axis=1, keepdims=True)
    ac = np.fft.irfft(np.abs(np.fft.rfft(voiced, n=2 * FRAME)) ** 2)[:, : FRAME // 2]
    d = 2 * (ac[:, :1] - ac)
    cmnd = d[:, 1:] * np.arange(1, d.shape[1]) / np.maximum(np.cumsum(d[:, 1:], axis=1), 1e-12)
    lo, hi = SR // 600, SR // 60
    return float(np.median([SR / (lo + _first_dip(c[lo - 1 : hi])) for c in cmnd]))


def _first_dip(c: np.ndarray, threshold: float = 0.1) -> int:
    """Index of the bottom of the first dip below ``threshold`` (the global minimum if there is none)."""
    below = np.nonzero(c < threshold)[0]
    if below.size == 0:
        return int(c.argmin())
    i = int(below[0])
    while i + 1 < len(c) and c[i + 1] < c[i]:
        i += 1
    return i


def syllable_rate(x: np.ndarray) -> float:
    """Voiced runs per second: 10 ms frames above 3 % of the peak RMS, runs shorter than 20 ms ignored."""
    fr = frames(x, 160, 80)
    loud = np.sqrt((fr**2).mean(axis=1)) > 0.03 * np.sqrt((fr**2).mean(axis=1)).max()
    edges = np.diff(np.concatenate([[0], loud.astype(int), [0]]))
    runs = np.nonzero(edges == -1)[0] - np.nonzero(edges == 1)[0]
    return float((runs >= 4).sum() / (len(x) / SR))


def high_band_share(x: np.ndarray) -> float:
    """Share of spectral energy above 2 kHz: the brightness that spectral tilt controls."""
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float(power[freqs > 2000].sum() / power.sum())


def per_emotion(audio: dict, measure) -> dict[str, float]:
    """Mean over speakers of each speaker's mean measurement, so every speaker weighs the same."""
    speakers = sorted({spk for spk, _ in audio})
    return {
        emo: float(np.mean([np.mean([measure(x) for x in audio[(spk, emo)]]) for spk in speakers])) for emo in EMOTIONS
    }


def test_same_seed_same_audio_other_seed_other_audio() -> None:
    a, b = SyntheticCorpus(n_speakers=3, per_emotion=1, seed=4), SyntheticCorpus(n_speakers=3, per_emotion=1, seed=4)
    other = SyntheticCorpus(n_speakers=3, per_emotion=1, seed=5)
    assert a.items() == b.items()
    assert a.fingerprint() == b.fingerprint() != other.fingerprint()
    for item in a.items()[:5]:
        x = a.read(item)
        np.testing.assert_array_equal(x, b.read(item))
        np.testing.assert_array_equal(x, a.read(item))  # reading twice does not advance any state
        assert not np.allclose(x, other.read(item))


def test_clip_length_is_part_of_the_cache_key() -> None:
    """A 1 s corpus is not the first second of a 2 s one, so the two must not share a prepared cache."""
    short, long = SyntheticCorpus(n_speakers=3, seconds=1.0), SyntheticCorpus(n_speakers=3, seconds=2.0)
    assert short.fingerprint() != long.fingerprint()
    assert short.fingerprint() == SyntheticCorpus(n_speakers=3, seconds=1.0).fingerprint()


def test_clips_of_one_speaker_and_emotion_differ(audio: dict) -> None:
    clips = audio[("spk00", "anger")]
    assert not np.allclose(clips[0], clips[1])


def test_splits_are_speaker_independent_and_cover_every_emotion(corpus: SyntheticCorpus) -> None:
    speakers = {split: {it.speaker for it in corpus.items(split)} for split in ("train", "val", "test")}
    assert all(speakers.values())
    for s1, s2 in itertools.combinations(speakers, 2):
        assert not speakers[s1] & speakers[s2]
    assert set().union(*speakers.values()) == {f"spk{i:02d}" for i in range(8)}
    for split in speakers:
        labels = [it.label for it in corpus.items(split)]
        assert sorted(set(labels)) == sorted(EMOTIONS)
        assert len(labels) == len(speakers[split]) * len(EMOTIONS) * 3


def test_audio_is_valid_waveform(audio: dict) -> None:
    for clips in audio.values():
        for x in clips:
            assert x.dtype == np.float32 and x.shape == (2 * SR,)
            assert np.isfinite(x).all()
            assert 0.3 < np.abs(x).max() <= 0.95 + 1e-6
            assert np.sqrt((x**2).mean()) > 0.01


def test_measured_pitch_follows_prosody(audio: dict) -> None:
    f0 = per_emotion(audio, median_f0)
    for e1, e2 in itertools.permutations(EMOTIONS, 2):
        if PROSODY[e1].pitch >= 1.3 * PROSODY[e2].pitch:  # every high-arousal vs low-arousal pair
            assert f0[e1] > f0[e2], (e1, e2, f0)
    # anger's falling and sadness's nearly flat contour are centred, so the ratio is their pitch ratio
    expected = PROSODY["anger"].pitch / PROSODY["sadness"].pitch
    assert f0["anger"] / f0["sadness"] == pytest.approx(expected, rel=0.15)


def test_measured_pitch_is_speaker_dependent(corpus: SyntheticCorpus, audio: dict) -> None:
    """Within an emotion, a speaker's measured F0 tracks the speaker's base F0 (gender, age)."""
    speakers = sorted({spk for spk, _ in audio})
    base = np.array([corpus._speaker(spk)["f0"] for spk in speakers])
    measured = np.array([np.mean([median_f0(x) for x in audio[(spk, "guilt")]]) for spk in speakers])
    assert np.corrcoef(base, measured)[0, 1] > 0.9


def test_measured_tempo_follows_prosody(audio: dict) -> None:
    rate = per_emotion(audio, syllable_rate)
    order = sorted(EMOTIONS, key=lambda e: PROSODY[e].syllables_per_s)
    for slower, faster in itertools.combinations(order, 2):
        if PROSODY[faster].syllables_per_s >= 1.15 * PROSODY[slower].syllables_per_s:
            assert rate[faster] > rate[slower], (slower, faster, rate)
    for emo in EMOTIONS:  # syllables fill 88–100 % of the clip after a short onset
        assert rate[emo] == pytest.approx(0.94 * PROSODY[emo].syllables_per_s, rel=0.2), emo


def test_measured_brightness_follows_spectral_tilt(audio: dict) -> None:
    bright = per_emotion(audio, high_band_share)
    for e1, e2 in itertools.permutations(EMOTIONS, 2):
        if PROSODY[e2].tilt - PROSODY[e1].tilt >= 0.5:  # e.g. anger, happiness, surprise vs sadness
            assert bright[e1] > 2 * bright[e2], (e1, e2, bright)
