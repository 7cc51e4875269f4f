"""What every corpus of real audio files shares: its default clip length and its published speaker lists.

The paper unifies DEMoS to its longest clip (6.0 s) and IEMOCAP to the 90th percentile of its durations
(8.7 s). Corpora the paper did not use (EmoDB, RAVDESS, CSV manifests) get the IEMOCAP rule applied to
the files actually given, so the default neither truncates most clips nor pads them with long repeats;
an explicit ``seconds`` always wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile as sf

from staa import validation
from staa.audio import check_audio_file
from staa.data.base import SPLITS, Corpus
from staa.errors import AudioError

LENGTH_PERCENTILE = 90.0


def clip_seconds(path: str | Path) -> float:
    """Duration of an audio file from its header (no decoding)."""
    check_audio_file(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(f"not a readable audio file ({str(exc).splitlines()[0]})", path) from None
    return info.frames / info.samplerate


def percentile_seconds(paths: Iterable[str | Path], q: float = LENGTH_PERCENTILE, step: float = 0.1) -> float:
    """The ``q``-th percentile of the clip durations, rounded *up* to a multiple of ``step`` seconds."""
    durations = np.array([clip_seconds(p) for p in paths])
    if durations.size == 0:
        raise ValueError("no clips to measure")
    value = float(np.percentile(durations, q))
    return round(math.ceil(value / step - 1e-9) * step, 6)


class AudioFileCorpus(Corpus):
    """A corpus read from audio files on disk (as opposed to the generated synthetic corpus).

    ``default_seconds`` is the corpus's fixed length (the paper's, where it has one); ``None`` means
    "measure it": the 90th-percentile duration of the corpus's own clips, computed once on first use.
    """

    default_seconds: float | None = None

    def __init__(self, root: str | Path | None, *, seconds: float | None = None) -> None:
        super().__init__(root)
        validation.seconds("seconds", seconds)
        self._seconds = seconds if seconds is not None else self.default_seconds

    @property  # type: ignore[override]
    def seconds(self) -> float:
        if self._seconds is None:
            self._seconds = percentile_seconds(it.path for it in self.items())
        return self._seconds

    def speaker_splits(self) -> dict[str, list[str]]:
        """The speakers of each split, sorted: the record that makes a speaker-independent split public."""
        return {s: sorted({it.speaker for it in self.items(s)}) for s in SPLITS}
