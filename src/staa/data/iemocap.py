"""IEMOCAP (Busso et al., 2008), read from ``IEMOCAP_full_release`` as distributed.

Labels come from the per-dialogue evaluation files ``SessionN/dialog/EmoEvaluation/<dialogue>.txt``,
whose utterance lines read ``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, ...]``
(the annotators' individual votes on the following lines are ignored). The audio of an utterance is
``SessionN/sentences/wav/<dialogue>/<utterance>.wav``, the dialogue being the utterance id without its
last ``_`` field.

As in the paper: the 4-class task keeps neutral, happiness, excited (merged into happiness), anger and
sadness and drops every other label (frustration, surprise, fear, disgust, other, ``xxx`` no agreement);
classes are ordered as the authors index them; clips are unified to 8.7 s (the 90th-percentile duration);
sessions 1, 2 and 5 train, session 4 validates and session 3 tests (3 349 / 1 031 / 1 151 utterances).
The speaker is the session plus the gender letter *before the utterance index*
(``Ses01F_impro01_M003`` → ``Ses01M``); the letter in the dialogue prefix is only the actor wearing the
motion-capture markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from staa.data.base import Item
from staa.data.files import AudioFileCorpus
from staa.errors import DataError

CLASSES = ("happiness", "sadness", "anger", "neutral")
LABELS = {"hap": "happiness", "exc": "happiness", "sad": "sadness", "ang": "anger", "neu": "neutral"}
SESSION_SPLIT = {1: "train", 2: "train", 5: "train", 4: "val", 3: "test"}
LINE = re.compile(r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\t(Ses0(\d)[FM]_\S+_([FM])\d+)\t(\w+)\t")
RELEASE = "IEMOCAP_full_release"


class IEMOCAP(AudioFileCorpus):
    """IEMOCAP, 4 classes, the paper's session split; ``root`` is the release folder or its parent."""

    name = "iemocap"
    classes = CLASSES
    default_seconds = 8.7

    def release_folder(self) -> Path:
        assert self.root is not None
        return self.root / RELEASE if (self.root / RELEASE).is_dir() else self.root

    def _collect(self) -> list[Item]:
        release = self.release_folder()
        sessions = sorted(p for p in release.glob("Session[1-5]") if p.is_dir())
        if not sessions:
            raise DataError("no Session1..Session5 folders (expected the IEMOCAP_full_release folder)", release)
        items = []
        for session in sessions:
            for evaluation in sorted((session / "dialog" / "EmoEvaluation").glob("*.txt")):
                if not evaluation.name.startswith("."):
                    items.extend(self._utterances(session, evaluation))
        return items

    def _utterances(self, session: Path, evaluation: Path) -> list[Item]:
        """The kept utterances of one dialogue's evaluation file, checked to have their wav."""
        out = []
        for line in evaluation.read_text(encoding="utf-8", errors="replace").splitlines():
            m = LINE.match(line)
            if m is None or m.group(4) not in LABELS:
                continue
            utterance, number, gender = m.group(1), int(m.group(2)), m.group(3)
            wav = session / "sentences" / "wav" / utterance.rsplit("_", 1)[0] / f"{utterance}.wav"
            if not wav.is_file():
                raise DataError(f"audio of utterance {utterance} (labelled in {evaluation.name}) not found", wav)
            out.append(Item(str(wav.resolve()), LABELS[m.group(4)], f"Ses0{number}{gender}", SESSION_SPLIT[number]))
        return out
