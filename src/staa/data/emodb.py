"""EmoDB, the Berlin Database of Emotional Speech (Burkhardt et al., 2005): 10 actors, 7 classes.

File names ``SSTTTEV.wav`` (e.g. ``03a01Fa.wav``): speaker ``03``, text ``a01``, emotion letter ``F``,
version ``a``. Emotion letters (German initials): W anger (Wut/Ärger), L boredom (Langeweile), E disgust
(Ekel), A fear (Angst), F happiness (Freude), T sadness (Trauer), N neutral. All seven are classes,
in alphabetical order. The wavs may sit directly in the root or in ``root/wav`` (the distribution's layout).

Split: a fixed, published speaker table rather than a seeded draw, because EmoDB has only ten speakers
and the shared 4-speaker subset (03 m, 08 f, 09 f, 10 m) must still give a 2/1/1 split. Each split
holds both genders (males 03 10 11 12 15, females 08 09 13 14 16):

    train  09 10 11 12 13 14     val  08 15     test  03 16

On the subset this is train 09 10 (81 clips), val 08 (58), test 03 (49). The subset's speakers were
placed so that training sees every class: speaker 09 has 8 of the subset's 10 disgust clips and speaker
08 none, so training on 08 instead of 09 would leave one disgust clip to learn from.

Default length: the 90th-percentile clip duration of the files given (the paper's IEMOCAP rule, see
:mod:`staa.data.files`). The original clips last 1.2-9 s; the shared subset was cut to exactly 2.0 s
per clip, so there the default is 2.0 s and nothing is tiled or truncated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from staa.data.coded import Code, CodedCorpus
from staa.errors import DataError

CLASSES = ("anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness")
EMOTION_LETTERS = {
    "W": "anger",
    "L": "boredom",
    "E": "disgust",
    "A": "fear",
    "F": "happiness",
    "N": "neutral",
    "T": "sadness",
}
GENDERS = {"03": "m", "08": "f", "09": "f", "10": "m", "11": "m", "12": "m", "13": "f", "14": "f", "15": "m", "16": "f"}
SPEAKER_SPLIT = {
    **dict.fromkeys(("09", "10", "11", "12", "13", "14"), "train"),
    **dict.fromkeys(("08", "15"), "val"),
    **dict.fromkeys(("03", "16"), "test"),
}
NAME = re.compile(r"^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])\.wav$")


class EmoDB(CodedCorpus):
    """EmoDB with the fixed speaker split above; length measured from the clips unless given."""

    name = "emodb"
    classes = CLASSES
    scheme = "03a01Fa.wav"
    recursive = False

    def __init__(self, root: str | Path, *, seconds: float | None = None) -> None:
        super().__init__(root, seconds=seconds)

    def audio_folder(self) -> Path:
        assert self.root is not None
        return self.root / "wav" if (self.root / "wav").is_dir() else self.root

    def parse(self, path: Path) -> Code:
        m = NAME.match(path.name)
        if m is None:
            raise self.not_coded(path)
        speaker = m.group(1)
        if speaker not in GENDERS:
            raise DataError(f"unknown EmoDB speaker {speaker} (expected one of {' '.join(GENDERS)})", path)
        return Code(EMOTION_LETTERS[m.group(3)], speaker, GENDERS[speaker])

    def assign_splits(self, genders: Mapping[str, str]) -> dict[str, str]:
        return {spk: SPEAKER_SPLIT[spk] for spk in genders}
