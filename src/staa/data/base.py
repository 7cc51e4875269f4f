"""The record every corpus yields, and the speaker-independent split they share.

A corpus is a list of :class:`Item` (path, label, speaker, split) plus its class names; reading audio
goes through :meth:`Corpus.read` so that the built-in synthetic corpus can generate instead of decode.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from staa.audio import SAMPLE_RATE, load_audio
from staa.errors import DataError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Item:
    """One utterance: where it is, its emotion label, its speaker and its split."""

    path: str
    label: str
    speaker: str
    split: str


class Corpus:
    """Base class of every corpus: a name, class names, items and a default clip length.

    Subclasses set ``name``, ``classes`` and ``seconds`` and implement :meth:`_collect`.
    """

    name: str = "corpus"
    classes: tuple[str, ...] = ()
    seconds: float = 6.0

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else None
        self._items: list[Item] | None = None

    def _collect(self) -> list[Item]:
        raise NotImplementedError

    def items(self, split: str | None = None) -> list[Item]:
        """All items, or those of one split; validated once (labels known, no duplicates, splits present)."""
        if self._items is None:
            items = self._collect()
            validate_items(items, self.classes, self.name)
            self._items = items
        return [it for it in self._items if split is None or it.split == split]

    def read(self, item: Item, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
        """Mono float32 audio of one item at ``sample_rate``.

        ``max_seconds`` reads only the head of the file (all that length unification keeps), so hour-long
        recordings cost no more than the clip length; ``None`` reads the whole file.
        """
        return load_audio(item.path, sample_rate, max_seconds=max_seconds)

    def label_index(self, label: str) -> int:
        return self.classes.index(label)

    def fingerprint(self) -> str:
        """Hash of the classes, the item list (paths, labels, speakers, splits) and each file's content
        (:func:`content_key`): the cache key's corpus part, so a file replaced in place is decoded again."""
        h = hashlib.sha256(self.name.encode())
        h.update(json.dumps(list(self.classes)).encode())  # the label indices stored depend on the order
        for it in self.items():
            h.update(json.dumps(asdict(it), sort_keys=True).encode())
            h.update(content_key(Path(it.path)).encode())
        return h.hexdigest()[:16]


SAMPLED_BYTES = 1 << 12  # read whole up to this size; larger files: this much at the start, middle and end


def content_key(path: Path) -> str:
    """Size, modification time and a hash of the bytes of ``path`` ("" for a virtual item).

    Files up to :data:`SAMPLED_BYTES` are hashed whole; a larger one at its start, middle and end, so
    that keying a corpus of thousands of recordings reads 12 KiB of each, not every byte. Any copy
    over the file changes its modification time, and one with the same size and time changes the bytes hashed.
    """
    try:
        info = path.stat()
        with path.open("rb") as f:
            if info.st_size <= SAMPLED_BYTES:
                data = f.read()
            else:
                parts = []
                for offset in (0, (info.st_size - SAMPLED_BYTES) // 2, info.st_size - SAMPLED_BYTES):
                    f.seek(offset)
                    parts.append(f.read(SAMPLED_BYTES))
                data = b"".join(parts)
    except OSError:  # not a file (synthetic items) or unreadable: reading it later says why
        return ""
    return f"{info.st_size}|{info.st_mtime_ns}|{hashlib.sha256(data).hexdigest()}"


def validate_items(items: Sequence[Item], classes: Sequence[str], corpus: str) -> None:
    """Reject empty corpora, unknown labels, duplicated files and unknown split names, in one line each."""
    if not items:
        raise DataError(f"corpus '{corpus}' has no items (wrong root folder?)")
    seen: set[str] = set()
    for it in items:
        if it.label not in classes:
            raise DataError(f"unknown label '{it.label}' (expected one of {', '.join(classes)})", it.path)
        if it.split not in SPLITS:
            raise DataError(f"unknown split '{it.split}' (expected train, val or test)", it.path)
        if it.path in seen:
            raise DataError("file listed twice in the corpus", it.path)
        seen.add(it.path)


def speaker_split(
    speakers: Sequence[str],
    proportions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> dict[str, str]:
    """Assign whole speakers to train/val/test (speaker-independent), deterministically from ``seed``.

    Speakers are sorted, shuffled with a private RNG and cut at the cumulative proportions; every split
    receives at least one speaker when there are three or more.
    """
    uniq = sorted(set(speakers))
    if len(uniq) < 3:
        raise DataError(f"a speaker-independent split needs at least 3 speakers, got {len(uniq)}")
    rng = random.Random(seed)
    rng.shuffle(uniq)
    n = len(uniq)
    n_test = max(1, round(proportions[2] * n))
    n_val = max(1, round(proportions[1] * n))
    n_train = n - n_val - n_test
    if n_train < 1:
        n_train, n_val = 1, n - 1 - n_test
    out = {}
    for i, spk in enumerate(uniq):
        out[spk] = "train" if i < n_train else "val" if i < n_train + n_val else "test"
    return out
