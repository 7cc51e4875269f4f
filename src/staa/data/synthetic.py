"""Built-in synthetic emotional speech: a deterministic source-filter voice, no download.

Each clip is a train of glottal pulses (Rosenberg shape, per-cycle jitter and shimmer, aspiration
noise) at a time-varying pitch, cut into syllables and pauses by a loudness envelope, filtered by three
formant resonators (a random vowel per syllable, scaled by the speaker's vocal-tract length) and by a
one-pole spectral tilt. Emotion moves pitch level, range and contour, tempo, pausing, accentuation
(the loudness contour), tilt, jitter, shimmer and breathiness; speakers move base pitch, vocal-tract
length and loudness. Emotion effects exceed speaker effects so that a model trained on some speakers
recognises emotions of unseen ones well above chance, as real SER models do on acted corpora. The
tests measure pitch, tempo and brightness back from the audio to keep these cues honest.

Items carry virtual paths ``synthetic://<speaker>/<emotion>/<index>``; audio is generated on read
from a seed derived from the corpus seed and the item, so the corpus is identical on every machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from staa import validation
from staa.audio import SAMPLE_RATE
from staa.data.base import Corpus, Item, speaker_split
from staa.validation import number

EMOTIONS = ("anger", "disgust", "fear", "guilt", "happiness", "sadness", "surprise")


@dataclass(frozen=True)
class Prosody:
    """Emotion-dependent voice parameters; directions follow the vocal-affect literature
    (Banse & Scherer 1996; Juslin & Laukka 2003): high-arousal emotions are higher, faster, brighter
    and more strongly accented; low-arousal ones lower, slower, darker, breathier and flatter."""

    pitch: float  # multiplier of the speaker's base F0
    pitch_range: float  # semitones of the intonation excursion
    syllables_per_s: float
    tilt: float  # one-pole low-pass coefficient: higher = darker voice
    jitter: float  # relative cycle-to-cycle F0 perturbation (std)
    shimmer: float  # relative cycle-to-cycle amplitude perturbation (std)
    breath: float  # aspiration noise level relative to voicing
    accent: float  # depth of syllable-to-syllable loudness variation, 0 (monotone) to 1
    voiced: float  # share of each syllable that is voiced; the rest is a pause
    contour: str  # intonation shape: rise, fall, peak, flat, wobble


PROSODY: dict[str, Prosody] = {
    "anger": Prosody(1.40, 6.0, 5.5, 0.10, 0.006, 0.04, 0.02, 0.80, 0.85, "fall"),
    "disgust": Prosody(0.80, 5.0, 2.6, 0.50, 0.035, 0.25, 0.06, 0.55, 0.65, "peak"),  # creaky
    "fear": Prosody(1.65, 2.5, 6.5, 0.40, 0.045, 0.10, 0.18, 0.30, 0.60, "wobble"),
    "guilt": Prosody(0.92, 1.0, 3.5, 0.75, 0.012, 0.05, 0.35, 0.15, 0.60, "flat"),
    "happiness": Prosody(1.30, 7.0, 4.8, 0.20, 0.008, 0.03, 0.03, 0.60, 0.75, "peak"),
    "sadness": Prosody(0.78, 1.5, 2.0, 0.88, 0.025, 0.08, 0.22, 0.15, 0.55, "fall"),
    "surprise": Prosody(1.60, 12.0, 3.6, 0.30, 0.008, 0.03, 0.05, 0.50, 0.80, "rise"),
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
        number("n_speakers", n_speakers, integer=True, low=3, high=1000)
        number("per_emotion", per_emotion, integer=True, low=1, high=1000)
        validation.seconds("seconds", seconds)
        validation.seed("seed", seed)
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

    def read(self, item: Item, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
        _, _, spk, emo, k = item.path.split("/")
        return synthesize(PROSODY[emo], self._speaker(spk), self.seconds, sample_rate, self._rng(item.path))

    def fingerprint(self) -> str:
        """Item list plus clip length and this generator's source, so a prepared cache is never
        reused for audio that the current code would generate differently."""
        h = hashlib.sha256(f"{super().fingerprint()}|{self.seconds}".encode())
        h.update(Path(__file__).read_bytes())
        return h.hexdigest()[:16]

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


def synthesize(p: Prosody, speaker: dict[str, float], seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Generate one utterance (float32, peak ≤ 0.95) from prosody, speaker and a private RNG."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    syl, envelope = _syllables(p, seconds, t, rng)
    f0 = _pitch(p, speaker["f0"], seconds, t, rng)
    source = _glottal_source(p, f0, sr, rng) * envelope
    out = _vocal_tract(source, syl, speaker["tract"], sr, rng)
    out = lfilter([1 - p.tilt], [1, -p.tilt], out)
    # room noise 50 dB below the peak, so no clip is digitally silent and pauses stay pauses
    out += 0.003 * np.max(np.abs(out)) * rng.standard_normal(n)
    out *= speaker["gain"] * 0.95 / (np.max(np.abs(out)) + 1e-9)
    return out.astype(np.float32)


def _syllables(p: Prosody, seconds: float, t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Syllable index per sample (``n_syl`` = trailing silence) and the loudness envelope.

    Tempo varies ±15 % per clip and syllable lengths ±30 %; each syllable is voiced for ``p.voiced`` of
    its length, then pauses, and its loudness is drawn from [1 − accent, 1].
    """
    rate = p.syllables_per_s * rng.uniform(0.85, 1.15)
    n_syl = max(1, int(np.ceil(seconds * rate)))
    bounds = np.cumsum(rng.uniform(0.7, 1.3, n_syl))
    bounds = bounds / bounds[-1] * seconds * rng.uniform(0.88, 1.0)
    onset = rng.uniform(0.0, 0.1)
    syl = np.searchsorted(bounds, t - onset, side="right")
    starts = np.concatenate([[0.0], bounds])
    current = np.minimum(syl, n_syl - 1)
    phase = np.clip((t - onset - starts[current]) / np.diff(starts)[current], 0, None)
    shape = np.sin(np.pi * np.clip(phase / p.voiced, 0, 1)) ** 0.7
    stress = rng.uniform(1 - p.accent, 1.0, n_syl)[current]
    envelope = np.where((syl < n_syl) & (t >= onset) & (phase < p.voiced), shape * stress, 0.0)
    return syl, envelope


def _pitch(p: Prosody, base_f0: float, seconds: float, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """F0 track in Hz: speaker base × emotion level, intonation contour in semitones, clip offset."""
    semis = p.pitch_range * _contour(p.contour, t / seconds, rng) + rng.normal(0, 0.5)
    return np.clip(base_f0 * p.pitch * 2 ** (semis / 12), 50, 600)


def _glottal_source(p: Prosody, f0: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Differentiated Rosenberg pulses with per-cycle jitter and shimmer, plus aspiration noise."""
    n_cycles = int(np.sum(f0) / sr * 1.5) + 2
    period_noise = 1 + p.jitter * rng.standard_normal(n_cycles)
    f0 = f0 * period_noise[np.minimum(np.cumsum(f0 / sr).astype(int), n_cycles - 1)]
    cycle = np.cumsum(f0 / sr)
    index, frac = np.minimum(cycle.astype(int), n_cycles - 1), cycle % 1.0
    # Rosenberg glottal pulse: opening 40 %, closing 16 % of the period.
    glottal = np.where(frac < 0.4, 0.5 * (1 - np.cos(np.pi * frac / 0.4)), 0.0)
    closing = (frac >= 0.4) & (frac < 0.56)
    glottal = np.where(closing, np.cos(np.pi / 2 * (frac - 0.4) / 0.16), glottal)
    amplitude = np.clip(1 + p.shimmer * rng.standard_normal(n_cycles), 0.2, None)[index]
    return np.diff(glottal, prepend=0.0) * 20 * amplitude + p.breath * rng.standard_normal(len(f0))


def _vocal_tract(source: np.ndarray, syl: np.ndarray, tract: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Three formant resonators per syllable, a random vowel each, scaled by vocal-tract length."""
    n_syl = int(syl.max()) + 1
    vowel_of = rng.integers(0, len(VOWELS), n_syl)
    out = np.zeros_like(source)
    for s in range(n_syl):
        idx = np.nonzero(syl == s)[0]
        seg = source[idx]
        for k, formant in enumerate(VOWELS[vowel_of[s]] * tract):
            bw = 60 + 40 * k
            r = np.exp(-np.pi * bw / sr)
            theta = 2 * np.pi * min(formant, sr / 2 - 200) / sr
            a = [1, -2 * r * np.cos(theta), r * r]
            seg = lfilter([sum(a)], a, seg)  # Klatt's normalisation: unit gain at 0 Hz
        out[idx] = seg
    return out
