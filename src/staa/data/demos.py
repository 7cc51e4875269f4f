"""DEMoS (Parada-Cabaleiro et al., 2020): Italian elicited emotional speech, the paper's main corpus.

File names, as documented in the corpus's own legend (``PR_f_43_pau05b.wav``)::

    PR | NP     prototypical (selected) or non-prototypical sample; both are used (9 365 clips)
    f | m       speaker gender
    43          speaker id
    pau05b      emotion code (three letters after the last underscore) + item number + version

Emotion codes: rab anger, dis disgust, pau fear, col guilt, gio happiness, tri sadness, sor surprise,
neu neutral. Neutral clips (``neu``, 332 of them, kept by the distribution in a separate ``NEU`` folder)
are excluded, as in the paper; any ``.wav`` under a folder named ``NEU`` is skipped without parsing, so
the exclusion holds whatever those files are called. Both the ``NP``/``PR`` prefixes are optional in
the parser because the neutral clips may come without one.

Split: the paper's proportions are inconsistent (text "40 % / 40 % / 30 %", code comment 0.4/0.3/0.3,
code effectively 43/32/25 %; see docs/official-code.md §1.5). We use a documented rule instead: speakers are
split 40/30/30 into train/val/test **separately for each gender** with a seeded shuffle
(:func:`staa.data.coded.gender_stratified_split`); for the 23 female and 45 male speakers this gives
9/7/7 and 17/14/14 speakers. :meth:`DEMoS.speaker_splits` returns the lists for publication.
"""

from __future__ import annotations

import re
from pathlib import Path

from staa.data.coded import Code, CodedCorpus

CLASSES = ("anger", "disgust", "fear", "guilt", "happiness", "sadness", "surprise")
EMOTION_CODES = {
    "rab": "anger",
    "dis": "disgust",
    "pau": "fear",
    "col": "guilt",
    "gio": "happiness",
    "tri": "sadness",
    "sor": "surprise",
    "neu": None,
}
NAME = re.compile(r"^(?:(?:NP|PR)_)?([fm])_(\d+)_([a-z]{3})[a-z0-9]*\.wav$", re.IGNORECASE)


class DEMoS(CodedCorpus):
    """DEMoS: 7 classes in alphabetical order, 6.0 s clips (the corpus maximum, as in the paper)."""

    name = "demos"
    classes = CLASSES
    default_seconds = 6.0
    scheme = "PR_f_43_pau05b.wav"
    proportions = (0.4, 0.3, 0.3)

    def files(self) -> list[Path]:
        folder = self.audio_folder()
        return [p for p in super().files() if "neu" not in {d.lower() for d in p.relative_to(folder).parts[:-1]}]

    def parse(self, path: Path) -> Code:
        m = NAME.match(path.name)
        if m is None or m.group(3).lower() not in EMOTION_CODES:
            raise self.not_coded(path)
        gender, number, code = m.group(1).lower(), int(m.group(2)), m.group(3).lower()
        return Code(EMOTION_CODES[code], f"{gender}{number:02d}", gender)
