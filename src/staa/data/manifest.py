"""Any corpus as a CSV manifest: one row per clip with ``path`` and ``label`` (``speaker``, ``split`` optional).

Relative paths resolve against the CSV's folder, so a manifest travels with its audio. Classes default to
the sorted set of labels; pass ``classes`` to fix the order (and to reject unknown labels). Without a
``split`` column the split is made here, deterministically from ``seed`` and independent of row order:
by speaker (60/20/20 of the speakers, speaker-independent) when a ``speaker`` column is given, otherwise
60/20/20 of the clips of every label (stratified). Every problem is one :class:`DataError` line naming
the CSV and the row (rows are counted as file lines, the header being line 1).
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from staa import validation
from staa.data.base import SPLITS, Item, speaker_split
from staa.data.files import AudioFileCorpus
from staa.errors import ConfigError, DataError
from staa.io.text import read_text

PROPORTIONS = (0.6, 0.2, 0.2)
REQUIRED = ("path", "label")
NO_SPEAKER = "unknown"


class ManifestCorpus(AudioFileCorpus):
    """A corpus listed in a CSV file; see the module docstring for the columns and the split rules."""

    def __init__(
        self,
        csv_path: str | Path,
        classes: Sequence[str] | None = None,
        seconds: float | None = None,
        seed: int = 0,
    ) -> None:
        self.csv_path = Path(csv_path).resolve()
        super().__init__(self.csv_path.parent, seconds=seconds)
        self.seed = validation.seed("seed", seed)
        if classes is not None and (isinstance(classes, str) or not all(isinstance(c, str) and c for c in classes)):
            raise ConfigError(f"manifest classes must be a list of names, got {classes!r}")
        self.name = "manifest-" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", self.csv_path.stem) or "csv")
        self._given_classes = tuple(classes) if classes is not None else None
        self.classes = self._given_classes or tuple(sorted({row["label"] for _, row in self._rows()}))

    def _error(self, line: int, message: str) -> DataError:
        return DataError(f"row {line}: {message}", self.csv_path)

    def _rows(self) -> list[tuple[int, dict[str, str]]]:
        """(line number, stripped row) pairs, after the header and required values are checked."""
        if not self.csv_path.is_file():
            raise DataError("manifest not found", self.csv_path)
        with io.StringIO(read_text(self.csv_path, DataError), newline="") as f:
            reader = csv.DictReader(f)
            header = [c.strip() for c in reader.fieldnames or []]
            if not header:
                raise DataError("empty manifest (no header row)", self.csv_path)
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise DataError(
                    f"missing column(s) {', '.join(missing)} (header is: {', '.join(header)})", self.csv_path
                )
            rows = []
            for raw in reader:
                row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
                if any(row.values()):
                    rows.append((reader.line_num, row))
        if not rows:
            raise DataError("empty manifest (a header but no rows)", self.csv_path)
        for line, row in rows:
            for column in REQUIRED + tuple(c for c in ("speaker", "split") if c in header):
                if not row.get(column):
                    raise self._error(line, f"empty '{column}' (every row needs one when the column exists)")
        return rows

    def _collect(self) -> list[Item]:
        rows = self._rows()
        seen: dict[str, int] = {}
        for line, row in rows:
            path = (self.csv_path.parent / row["path"]).resolve()
            row["path"] = str(path)
            if row["path"] in seen:
                raise self._error(line, f"duplicate of row {seen[row['path']]} ({path.name})")
            seen[row["path"]] = line
            if not path.is_file():
                raise self._error(line, f"audio file not found: {path}")
            if self._given_classes is not None and row["label"] not in self._given_classes:
                raise self._error(line, f"unknown label '{row['label']}' (classes: {', '.join(self.classes)})")
            if "split" in row and row["split"] not in SPLITS:
                raise self._error(line, f"bad split '{row['split']}' (expected train, val or test)")
        split_of = self._assign_splits([row for _, row in rows])
        return [
            Item(row["path"], row["label"], row.get("speaker", NO_SPEAKER), split_of[row["path"]]) for _, row in rows
        ]

    def _assign_splits(self, rows: list[dict[str, str]]) -> dict[str, str]:
        """Split of every path: the CSV's own, else by speaker, else stratified by label."""
        if "split" in rows[0]:
            return {row["path"]: row["split"] for row in rows}
        if "speaker" in rows[0]:
            try:
                by_speaker = speaker_split([row["speaker"] for row in rows], PROPORTIONS, self.seed)
            except DataError as exc:
                raise DataError(f"{exc} (give a split column instead)", self.csv_path) from None
            return {row["path"]: by_speaker[row["speaker"]] for row in rows}
        return stratified_split({row["path"]: row["label"] for row in rows}, PROPORTIONS, self.seed)


def stratified_split(labels: dict[str, str], proportions: tuple[float, float, float], seed: int) -> dict[str, str]:
    """Split keys 60/20/20 (or ``proportions``) within every label, from ``seed``, independent of order.

    Each label's keys are sorted and shuffled with an RNG seeded by (seed, label); the first share goes to
    test, the next to val, the rest to train, so a label with one or two clips trains only.
    """
    by_label: dict[str, list[str]] = defaultdict(list)
    for key, label in labels.items():
        by_label[label].append(key)
    out = {}
    for label, keys in sorted(by_label.items()):
        keys.sort()
        random.Random(f"{seed}|{label}").shuffle(keys)
        n_test, n_val = round(proportions[2] * len(keys)), round(proportions[1] * len(keys))
        for i, key in enumerate(keys):
            out[key] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out
