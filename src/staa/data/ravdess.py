"""RAVDESS (Livingstone & Russo, 2018): 24 North-American actors, acted speech and song.

File names ``03-01-05-01-02-01-12.wav`` are seven two-digit fields: modality (01 audio-video, 02 video
only, 03 audio only), vocal channel (01 speech, 02 song), emotion (01 neutral, 02 calm, 03 happy, 04 sad,
05 angry, 06 fearful, 07 disgust, 08 surprised), intensity, statement, repetition and actor (01-24; odd
actors are male, even female). The wavs sit in ``Actor_XX`` folders, possibly below a distribution folder
such as ``Audio_Speech_Actors_01-24``; the whole root is searched.

Only audio-only speech is used (modality 03, vocal channel 01): song files are excluded. Classes keep the
corpus's own code order, named with the nouns used by the other corpora. Split: actors 60/20/20 per gender
with a seeded shuffle (16/4/4 actors). Default length: the 90th-percentile duration of the given clips.
"""

from __future__ import annotations

import re
from pathlib import Path

from staa.data.coded import Code, CodedCorpus
from staa.errors import DataError

CLASSES = ("neutral", "calm", "happiness", "sadness", "anger", "fear", "disgust", "surprise")
NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.wav$")
AUDIO_ONLY, SPEECH = 3, 1


class RAVDESS(CodedCorpus):
    """RAVDESS speech: 8 classes, 24 actors, gender-stratified speaker-independent split."""

    name = "ravdess"
    classes = CLASSES
    scheme = "03-01-05-01-02-01-12.wav"
    proportions = (0.6, 0.2, 0.2)

    def parse(self, path: Path) -> Code:
        m = NAME.match(path.name)
        if m is None:
            raise self.not_coded(path)
        modality, channel, emotion, actor = (int(m.group(i)) for i in (1, 2, 3, 7))
        if not 1 <= emotion <= len(CLASSES):
            raise DataError(f"unknown RAVDESS emotion code {emotion:02d} (expected 01-08)", path)
        if not 1 <= actor <= 24:
            raise DataError(f"unknown RAVDESS actor {actor:02d} (expected 01-24)", path)
        label = CLASSES[emotion - 1] if (modality, channel) == (AUDIO_ONLY, SPEECH) else None
        return Code(label, f"{actor:02d}", "m" if actor % 2 else "f")
