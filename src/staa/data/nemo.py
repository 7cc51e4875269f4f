"""nEMO (Christop, LREC-COLING 2024): Polish acted emotional speech, 9 speakers, 6 classes, 24 kHz mono.

Layout of the distribution: ``samples/<SPEAKER>_<emotion>_<n>.wav`` (e.g. ``EB0_anger_1.wav``) and
``data.tsv``, tab-separated, one row per file with the columns ``file_id`` (the file name), ``emotion``,
``raw_text``, ``normalized_text``, ``speaker_id`` (padded with spaces), ``gender`` and ``age``. The
labels come from ``data.tsv`` and are checked against the file names: a row whose emotion or speaker
disagrees with its file's name, a listed file that is missing, a ``.wav`` in ``samples/`` that the table
does not list, or an emotion outside the six classes is a one-line error naming the file. Audio is 24 kHz
(the front end resamples it to 16 kHz). Classes, in alphabetical order: anger, fear, happiness, neutral,
sadness, surprise: the table's ``surprised`` under the name RAVDESS and DEMoS use, so that a model trained
on one corpus fine-tunes on, or is scored on, another with that class's output row in place.

Split: a fixed speaker table, not a seeded draw (the corpus's authors publish none). Females EB0, IC0,
KD0, MK0; males KS0, MP0, SM0, TP0, WR0. Two speakers are kept in training because a held-out split
would be lopsided with them: MK0 recorded no *surprised* clip, and MP0 recorded only 256 clips with
17-90 per class (the others 89-90 per class). Of the seven complete speakers, sorted by code, the last
female and the last male are the test speakers and the ones before them validation, so that every split
holds both genders and every class in equal measure:

    train  EB0 MK0 (f)  KS0 MP0 SM0 (m)     val  IC0 (f)  TP0 (m)     test  KD0 (f)  WR0 (m)

On the full corpus (4 481 clips) this is train 2 323 clips, val 1 079, test 1 079 (90 per class in
val and test, 89 for one class of TP0 and one of WR0). A folder with only some speakers gets the splits
of those speakers; a split left empty is reported when the corpus is prepared.

Default length: 3.4 s, the 90th-percentile clip duration of the full corpus rounded up (the rule
:mod:`staa.data.files` applies to the corpora the paper did not use), fixed here so that a part of the
corpus is cut like the whole. The clips last 0.9-5.7 s, median 2.4 s; the front end tiles shorter ones
and keeps the head of longer ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from staa.data.coded import Code, CodedCorpus
from staa.errors import DataError

#: data.tsv's emotion → the class name shared with the other corpora
LABELS = {e: e for e in ("anger", "fear", "happiness", "neutral", "sadness")} | {"surprised": "surprise"}
CLASSES = tuple(sorted(LABELS.values()))
GENDERS = {"EB0": "f", "IC0": "f", "KD0": "f", "MK0": "f", "KS0": "m", "MP0": "m", "SM0": "m", "TP0": "m", "WR0": "m"}
SPEAKER_SPLIT = {
    **dict.fromkeys(("EB0", "MK0", "KS0", "MP0", "SM0"), "train"),
    **dict.fromkeys(("IC0", "TP0"), "val"),
    **dict.fromkeys(("KD0", "WR0"), "test"),
}
TABLE = "data.tsv"
COLUMNS = ("file_id", "emotion", "speaker_id", "gender")  # the columns read (the table has more)
TSV_GENDERS = {"female": "f", "male": "m"}


class NEMO(CodedCorpus):
    """nEMO: labels from ``data.tsv`` checked against the file names, the fixed speaker split above, 3.4 s."""

    name = "nemo"
    classes = CLASSES
    scheme = "EB0_anger_1.wav"
    default_seconds = 3.4
    recursive = False

    def __init__(self, root: str | Path, *, seconds: float | None = None) -> None:
        super().__init__(root, seconds=seconds)
        self._rows: dict[str, dict[str, str]] | None = None

    def audio_folder(self) -> Path:
        assert self.root is not None
        return self.root / "samples"

    def table(self) -> dict[str, dict[str, str]]:
        """``data.tsv`` as file name → row (the columns of :data:`COLUMNS`, stripped), read once."""
        if self._rows is None:
            assert self.root is not None
            self._rows = read_table(self.root / TABLE)
        return self._rows

    def files(self) -> list[Path]:
        """The files ``data.tsv`` lists, each present, and no other ``.wav`` in ``samples/``."""
        folder = self.audio_folder()
        listed = [folder / name for name in sorted(self.table())]
        for path in listed:
            if not path.is_file():
                raise DataError(f"listed in {TABLE} but missing", path)
        unlisted = sorted(set(super().files()) - set(listed))
        if unlisted:
            raise DataError(f"not listed in {TABLE} ({len(unlisted)} such files)", unlisted[0])
        return listed

    def parse(self, path: Path) -> Code:
        row = self.table()[path.name]
        parts = path.stem.split("_")
        if len(parts) != 3 or not parts[2].isdigit():
            raise self.not_coded(path)
        speaker, emotion = parts[0], parts[1]
        if row["emotion"] not in LABELS:
            raise DataError(
                f"unknown nEMO emotion '{row['emotion']}' in {TABLE} (expected one of {', '.join(LABELS)})", path
            )
        if (row["emotion"], row["speaker_id"]) != (emotion, speaker):
            raise DataError(
                f"{TABLE} says {row['emotion']} by {row['speaker_id']}, the file name {emotion} by {speaker}", path
            )
        if speaker not in GENDERS:
            raise DataError(f"unknown nEMO speaker {speaker} (expected one of {' '.join(GENDERS)})", path)
        if TSV_GENDERS.get(row["gender"]) != GENDERS[speaker]:
            raise DataError(
                f"{TABLE} gives speaker {speaker} the gender '{row['gender']}', expected {GENDERS[speaker]}", path
            )
        return Code(LABELS[emotion], speaker, GENDERS[speaker])

    def assign_splits(self, genders: Mapping[str, str]) -> dict[str, str]:
        return {spk: SPEAKER_SPLIT[spk] for spk in genders}


def read_table(path: Path) -> dict[str, dict[str, str]]:
    """The rows of nEMO's ``data.tsv`` by file name; a missing column, short row or repeated file is an error.

    Split on tabs, not parsed as CSV: the transcripts hold quotation marks that a CSV reader would
    take for field quoting.
    """
    if not path.is_file():
        raise DataError(f"{TABLE} not found (the nEMO root holds samples/ and {TABLE})", path)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t") if lines else []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DataError(f"{TABLE} lacks the columns {', '.join(missing)}", path)
    index = {c: header.index(c) for c in COLUMNS}
    rows: dict[str, dict[str, str]] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(f"line {number} has {len(fields)} fields, the header {len(header)}", path)
        row = {c: fields[i].strip() for c, i in index.items()}
        if row["file_id"] in rows:
            raise DataError(f"line {number} lists {row['file_id']} a second time", path)
        rows[row["file_id"]] = row
    return rows
