"""RAVDESS (Livingstone & Russo, 2018): 24 North-American actors, acted speech and song.

File names ``03-01-05-01-02-01-12.wav`` are seven two-digit fields: modality (01 audio-video, 02 video
only, 03 audio only), vocal channel (01 speech, 02 song), emotion (01 neutral, 02 calm, 03 happy, 04 sad,
05 angry, 06 fearful, 07 disgust, 08 surprised), intensity, statement, repetition and actor (01-24; odd
actors are male, even female). The wavs sit in ``Actor_XX`` folders, possibly below a distribution folder
such as ``Audio_Speech_Actors_01-24``; the whole root is searched. Audio is 48 kHz (the front end
resamples it to 16 kHz); a few files of the full corpus are stereo (down-mixed).

Only audio-only speech is used (modality 03, vocal channel 01): song files are excluded. Classes keep the
corpus's own code order, named with the nouns used by the other corpora. Neutral has no strong
intensity, so it has half as many clips as each other class (4 instead of 8 per actor).

Split: a fixed actor table, not a seeded draw. The corpus's authors publish no split, and the one
common in public code (actors 1-20 / 21-22 / 23-24) puts the first four actors, the shared subset,
all into training. This table splits 60/20/20 per gender, rounded to whole actors: 8/2/2 of each
gender's 12 (16/4/4 actors, 960/240/240 clips), and it is laid out so that the first four actors (the
shared subset) still split 2/1/1 with both genders in training: in each of the first four groups of four actors the first two train and the
other two go to val and test, the gender sent to val alternating; actors 17-24 all train.

    train  01 02 05 06 09 10 13 14 17 18 19 20 21 22 23 24     val  03 08 11 16     test  04 07 12 15

On the shared subset (actors 01-04) this is train 01 (m) 02 (f), 120 clips; val 03 (m), 60; test 04
(f), 60. A folder with only some actors gets the splits of those actors; a split left empty is
reported when the corpus is prepared.

Default length: 3.5 s (the length rule tiles shorter clips and keeps the head of longer ones). The
clips last 2.9-5.3 s, but each holds one short sentence after about 1 s of silence: on the subset
speech (frames within 35 dB of the clip's loudest) starts at a median 1.0 s and has ended in 90 % of
the clips by 3.4 s and in 95 % by 3.5 s. The 90th-percentile duration the other corpora use (4.2 s
on the subset) would add 0.7 s of mostly silence to every clip, a fifth more computation per clip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from staa.data.coded import Code, CodedCorpus
from staa.errors import DataError

CLASSES = ("neutral", "calm", "happiness", "sadness", "anger", "fear", "disgust", "surprise")
NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.wav$")
AUDIO_ONLY, SPEECH = 3, 1
ACTOR_SPLIT = {
    **dict.fromkeys(("01", "02", "05", "06", "09", "10", "13", "14"), "train"),
    **dict.fromkeys(("17", "18", "19", "20", "21", "22", "23", "24"), "train"),
    **dict.fromkeys(("03", "08", "11", "16"), "val"),
    **dict.fromkeys(("04", "07", "12", "15"), "test"),
}


class RAVDESS(CodedCorpus):
    """RAVDESS speech: 8 classes, 24 actors, the fixed gender-balanced actor split above, 3.5 s clips."""

    name = "ravdess"
    classes = CLASSES
    scheme = "03-01-05-01-02-01-12.wav"
    default_seconds = 3.5

    def __init__(self, root: str | Path, *, seconds: float | None = None) -> None:
        super().__init__(root, seconds=seconds)

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

    def assign_splits(self, genders: Mapping[str, str]) -> dict[str, str]:
        return {actor: ACTOR_SPLIT[actor] for actor in genders}
