"""Built-in synthetic emotional speech: a deterministic source-filter voice, no download.

Each clip is a train of glottal pulses (Rosenberg shape) at a time-varying pitch, shaped into syllables
by an amplitude envelope, filtered by three formant resonators (a random vowel per syllable, scaled by
the speaker's vocal-tract length) and by a one-pole spectral tilt. Emotion moves pitch level and
range, tempo, loudness contour, tilt, jitter and breathiness; speakers move base pitch, vocal-tract
length and loudness. Emotion effects exceed speaker effects so that a model trained on some speakers
recognises emotions of unseen ones well above chance, as real SER models do on acted corpora.

Items carry virtual paths ``synthetic://<speaker>/<emotion>/<index>``; audio is generated on read
from a seed derived from the corpus seed and the item, so the corpus is identical on every machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from staa.audio import SAMPLE_RATE
from staa.data.base import Corpus, Item, speaker_split

EMOTIONS = ("anger", "disgust", "fear", "guilt", "happiness", "sadness", "surprise")


@dataclass(frozen=True)
class Prosody:
    """Emotion-dependent voice parameters (multipliers or absolute values)."""

    pitch: float  # multiplier of the speaker's base F0
    pitch_range: float  # semitones of the intonation excursion
    syllables_per_s: float
    tilt: float  # one-pole low-pass coefficient: higher = darker voice
    jitter: float  # relative cycle-to-cycle F0 perturbation
    breath: float  # aspiration noise level relative to voicing
    contour: str  # intonation shape: rise, fall, peak, flat, wobble


PROSODY: dict[str, Prosody] = {
    "anger": Prosody(1.35, 5.0, 5.5, 0.15, 0.010, 0.02, "fall"),
    "disgust": Prosody(0.85, 3.0, 2.6, 0.60, 0.020, 0.10, "peak"),
    "fear": Prosody(1.55, 2.0, 6.5, 0.45, 0.045, 0.15, "wobble"),
    "guilt": Prosody(0.90, 1.0, 3.0, 0.75, 0.015, 0.25, "flat"),
    "happiness": Prosody(1.40, 8.0, 4.5, 0.30, 0.012, 0.03, "peak"),
    "sadness": Prosody(0.80, 1.5, 2.0, 0.85, 0.025, 0.20, "fall"),
    "surprise": Prosody(1.50, 10.0, 4.0, 0.35, 0.010, 0.05, "rise"),
}

VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]])


class SyntheticCorpus(Corpus):
    """Several synthetic speakers × the seven DEMoS emotions, speaker-independent splits."""

    name = "synthetic"
    classes = EMOTIONS

    def __init__(
        self,
        n_speakers: int = 10,
        per_emotion: int = 6,
        seconds: float = 2.0,
        seed: int = 0,
    ) -> None:
        super().__init__(None)
        self.n_speakers = n_speakers
        self.per_emotion = per_emotion
        self.seconds = seconds
        self.seed = seed
        self.name = f"synthetic-s{seed}-n{n_speakers}x{per_emotion}"

    def _collect(self) -> list[Item]:
        speakers = [f"spk{i:02d}" for i in range(self.n_speakers)]
        split_of = speaker_split(speakers, (0.6, 0.2, 0.2), seed=self.seed)
        return [
            Item(f"synthetic://{spk}/{emo}/{k}", emo, spk, split_of[spk])
            for spk in speakers
            for emo in EMOTIONS
            for k in range(self.per_emotion)
        ]

    def read(self, item: Item, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        _, _, spk, emo, k = item.path.split("/")
        return synthesize(PROSODY[emo], self._speaker(spk), self.seconds, sample_rate, self._rng(item.path))

    def _rng(self, key: str) -> np.random.Generator:
        digest = hashlib.sha256(f"{self.seed}|{key}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def _speaker(self, spk: str) -> dict[str, float]:
        rng = self._rng(f"speaker|{spk}")
        female = rng.random() < 0.5
        return {
            "f0": float(rng.uniform(180, 240) if female else rng.uniform(95, 140)),
            "tract": float(rng.uniform(1.05, 1.2) if female else rng.uniform(0.88, 1.0)),
            "gain": float(rng.uniform(0.5, 0.9)),
        }


def _contour(shape: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Intonation in [-1, 1] over normalised time t in [0, 1]."""
    if shape == "rise":
        return 2 * t**2 - 1
    if shape == "fall":
        return 1 - 2 * t
    if shape == "peak":
        return np.sin(np.pi * t) * 2 - 1
    if shape == "wobble":
        return np.sin(2 * np.pi * rng.uniform(3, 5) * t)
    return np.zeros_like(t)


def synthesize(
    p: Prosody, speaker: dict[str, float], seconds: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Generate one utterance (float32, peak ≤ 0.95) from prosody, speaker and a private RNG."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    # Syllable timing: tempo with ±15 % variation, voiced 70 % of each syllable.
    rate = p.syllables_per_s * rng.uniform(0.85, 1.15)
    n_syl = max(1, int(np.ceil(seconds * rate)))
    bounds = np.cumsum(rng.uniform(0.7, 1.3, n_syl + 1))
    bounds = bounds / bounds[-1] * seconds * rng.uniform(0.85, 1.0)
    onset = rng.uniform(0.0, 0.1)
    syl = np.searchsorted(bounds, t - onset)  # syllable index per sample (n_syl+ = silence)
    start = np.concatenate([[0.0], bounds])[np.minimum(syl, n_syl)] + onset
    dur = np.diff(np.concatenate([[0.0], bounds]))[np.minimum(syl, n_syl - 1)]
    phase = np.clip((t - start) / dur, 0, 1)
    envelope = np.where((syl < n_syl) & (t >= onset), np.sin(np.pi * np.clip(phase / 0.7, 0, 1)) ** 0.7, 0.0)
    envelope *= np.where(phase < 0.7, 1.0, 0.0)
    stress = rng.uniform(0.5, 1.0, n_syl + 1)[np.minimum(syl, n_syl)]
    envelope *= stress
    # Pitch: speaker base × emotion level, intonation contour in semitones, jitter per sample.
    semis = p.pitch_range * _contour(p.contour, t / seconds, rng) + rng.normal(0, 0.5)
    f0 = speaker["f0"] * p.pitch * 2 ** (semis / 12)
    f0 *= 1 + p.jitter * rng.standard_normal(n).cumsum() / np.sqrt(np.arange(1, n + 1))
    f0 = np.clip(f0, 50, 600)
    cycle = np.cumsum(f0 / sr)
    frac = cycle % 1.0
    # Rosenberg glottal pulse: opening 40 %, closing 16 % of the period.
    glottal = np.where(frac < 0.4, 0.5 * (1 - np.cos(np.pi * frac / 0.4)), 0.0)
    closing = (frac >= 0.4) & (frac < 0.56)
    glottal = np.where(closing, np.cos(np.pi / 2 * (frac - 0.4) / 0.16), glottal)
    source = np.diff(glottal, prepend=0.0) * 20 + p.breath * rng.standard_normal(n)
    source *= envelope
    # Vocal tract: a vowel per syllable, formants scaled by tract length.
    vowel_of = rng.integers(0, len(VOWELS), n_syl + 1)
    out = np.zeros(n)
    for s in range(n_syl):
        idx = np.nonzero(syl == s)[0]
        if idx.size == 0:
            continue
        seg = source[idx]
        for k, formant in enumerate(VOWELS[vowel_of[s]] * speaker["tract"]):
            bw = 60 + 40 * k
            r = np.exp(-np.pi * bw / sr)
            theta = 2 * np.pi * min(formant, sr / 2 - 200) / sr
            seg = lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], seg)
        out[idx] = seg
    out = lfilter([1 - p.tilt], [1, -p.tilt], out)
    out += 0.002 * rng.standard_normal(n)  # room noise, so no clip is digitally silent
    out *= speaker["gain"] * 0.95 / (np.max(np.abs(out)) + 1e-9)
    return out.astype(np.float32)
