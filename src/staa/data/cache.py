"""Prepared corpora: fixed-length float32 arrays on disk, memory-mapped, decoded once.

Layout of ``<root>/<corpus>-<key>/`` where ``key`` hashes the corpus fingerprint, sample rate and length::

    manifest.json            classes, key fields, per-split items and label counts, provenance
    train.npy  val.npy  test.npy                 (N, L) float32 waveforms, unified in length
    train_labels.npy  ...                        (N,) int64 class indices

A split file is written under a temporary name and renamed when complete; the manifest is written
last, so a killed preparation resumes at the first incomplete split and never serves half a file.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.lib.format import open_memmap
from torch.utils.data import Dataset

from staa import validation
from staa.audio import SAMPLE_RATE, unify_length
from staa.data.base import SPLITS, Corpus
from staa.defaults import MAX_CLIP_SECONDS
from staa.errors import DataError, first_line
from staa.io.outputs import atomic_path, write_json
from staa.runtime.progress import progress
from staa.runtime.reproducibility import provenance


@dataclass
class Split:
    """One prepared split: waveforms (memory-mapped), labels, and the item records they came from."""

    waves: np.ndarray
    labels: np.ndarray
    items: list[dict]

    def __len__(self) -> int:
        return len(self.labels)

    def dataset(self) -> WaveformDataset:
        return WaveformDataset(self.waves, self.labels)

    def drawn(self, n: int | None, seed: int) -> Split:
        """``n`` of the clips drawn by ``seed``, in the split's order, read into memory: the same clips for
        the same seed, so every validation of a run (and its resume) sees one set; the whole split when ``n``
        is None or not smaller than it."""
        if n is None or n >= len(self):
            return self
        rows = seeded_rows(len(self), n, seed)
        return Split(np.asarray(self.waves[rows]), np.asarray(self.labels)[rows], [self.items[i] for i in rows])


def seeded_rows(total: int, n: int | None, seed: int | list[int]) -> np.ndarray:
    """``n`` of the row numbers ``0 … total-1`` drawn without replacement by ``seed``, sorted; all of them when
    ``n`` is None or not smaller than ``total``."""
    if n is None or n >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, n, replace=False))


class WaveformDataset(Dataset):
    """(waveform, label) pairs from a prepared split; copies one row per access out of the memmap."""

    def __init__(self, waves: np.ndarray, labels: np.ndarray) -> None:
        self.waves = waves
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(np.array(self.waves[i], dtype=np.float32)), int(self.labels[i])


@dataclass
class PreparedCorpus:
    """A corpus after :func:`prepare`: class names, length, sample rate and its three splits."""

    path: Path
    name: str
    classes: list[str]
    sample_rate: int
    length: int

    def split(self, name: str) -> Split:
        """One split, its arrays checked against the manifest: a damaged cache is named, never served."""
        if name not in SPLITS:
            raise DataError(f"unknown split '{name}' (expected train, val or test)", self.path)
        manifest = _read_manifest(self.path)
        try:
            items = manifest["splits"][name]["items"]
            waves = np.load(self.path / f"{name}.npy", mmap_mode="r")
            labels = np.load(self.path / f"{name}_labels.npy")
        except (OSError, ValueError, EOFError, KeyError, TypeError) as exc:
            raise DamagedCache(self.path, first_line(exc)) from None
        shape = (len(items), self.length)
        if waves.dtype != np.float32 or waves.shape != shape:
            raise DamagedCache(self.path, f"{name}.npy holds {waves.dtype} {waves.shape}, not float32 {shape}")
        indices = labels.shape == (len(items),) and labels.dtype.kind in "iu"
        # -1: a clip without a label of the corpus's classes (a generator's pooled training speech)
        if not indices or (len(labels) and not -1 <= labels.min() <= labels.max() < len(self.classes)):
            raise DamagedCache(self.path, f"{name}_labels.npy does not hold one class index (or -1) per clip")
        return Split(waves, labels, items)

    @classmethod
    def load(cls, path: str | Path) -> PreparedCorpus:
        path = Path(path)
        m = _read_manifest(path)
        try:
            return cls(path, m["name"], m["classes"], m["sample_rate"], m["length"])
        except (KeyError, TypeError):
            raise DamagedCache(path, "manifest.json lacks the corpus's name, classes, rate or length") from None


def _read_manifest(path: Path) -> dict:
    """A prepared corpus's manifest.json, or one line: missing (not a prepared corpus) or damaged."""
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("not a prepared corpus (manifest.json missing)", path) from None
    except (OSError, ValueError) as exc:
        raise DamagedCache(path, f"manifest.json: {first_line(exc)}") from None
    if not isinstance(manifest, dict):
        raise DamagedCache(path, "manifest.json is not an object")
    return manifest


class DamagedCache(DataError):
    """A prepared corpus whose files do not agree (a half-written or edited cache)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"the prepared corpus is damaged ({problem}); delete this folder and it is prepared again", path
        )
        self.problem = problem


def cache_key(corpus: Corpus, sample_rate: int, length: int) -> str:
    h = hashlib.sha256(f"{corpus.fingerprint()}|{sample_rate}|{length}".encode())
    return h.hexdigest()[:12]


def prepare(
    corpus: Corpus,
    root: str | Path,
    *,
    seconds: float | None = None,
    sample_rate: int = SAMPLE_RATE,
    show_progress: bool = True,
) -> PreparedCorpus:
    """Decode, resample and unify every item of ``corpus`` once; reuse the cache when it exists.

    The unified length (``seconds``, else the corpus's) must be in (0, :data:`MAX_CLIP_SECONDS`] s.
    """
    validation.seconds("seconds", seconds)
    if seconds is None and not 0 < corpus.seconds <= MAX_CLIP_SECONDS:
        raise DataError(f"its clips would be unified to {corpus.seconds:g} s, beyond the {MAX_CLIP_SECONDS:g} s "
                        "staa takes in one piece: give a shorter length (--seconds)", corpus.root)  # fmt: skip
    length = int(round((seconds if seconds is not None else corpus.seconds) * sample_rate))
    key = cache_key(corpus, sample_rate, length)
    out = Path(root) / f"{corpus.name}-{key}"
    prepared = PreparedCorpus(out, corpus.name, list(corpus.classes), sample_rate, length)
    if (out / "manifest.json").exists() and _intact(prepared):
        return prepared
    out.mkdir(parents=True, exist_ok=True)
    splits: dict[str, dict] = {}
    for split in SPLITS:
        items = corpus.items(split)
        if not items:
            raise DataError(f"split '{split}' of corpus '{corpus.name}' is empty", corpus.root)
        target = out / f"{split}.npy"
        if not target.exists():
            _write_split(corpus, items, target, length, sample_rate, show_progress)
        labels = np.array([corpus.label_index(it.label) for it in items], dtype=np.int64)
        with atomic_path(out / f"{split}_labels.npy") as tmp:
            np.save(tmp, labels)
        counts = {c: int((labels == i).sum()) for i, c in enumerate(corpus.classes)}
        splits[split] = {"count": len(items), "label_counts": counts, "items": [asdict(it) for it in items]}
    write_json(
        out / "manifest.json",
        {
            "name": corpus.name,
            "classes": list(corpus.classes),
            "sample_rate": sample_rate,
            "length": length,
            "key": key,
            "fingerprint": corpus.fingerprint(),
            "splits": splits,
            "provenance": provenance(),
        },
    )
    return prepared


def _intact(prepared: PreparedCorpus) -> bool:
    """Whether every split of a prepared corpus agrees with its manifest; a damaged one (a split cut short,
    an edited manifest) loses its files, with a warning, so that it is prepared again."""
    try:
        for split in SPLITS:
            prepared.split(split)
        return True
    except DamagedCache as exc:
        warnings.warn(
            f"{prepared.path}: the prepared corpus was damaged ({exc.problem}); preparing it again", stacklevel=3
        )
    for name in ("manifest.json", *(f"{s}{suffix}.npy" for s in SPLITS for suffix in ("", "_labels"))):
        (prepared.path / name).unlink(missing_ok=True)
    return False


def _write_split(corpus: Corpus, items: list, target: Path, length: int, sample_rate: int, show_progress: bool) -> None:
    with atomic_path(target) as tmp:
        arr = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(items), length))
        for i, it in enumerate(progress(items, f"prepare {corpus.name}/{target.stem}", show_progress)):
            # Read a little more than the target so that the resampler's edge never reaches the kept part.
            arr[i] = unify_length(corpus.read(it, sample_rate, max_seconds=length / sample_rate + 0.5), length)
        arr.flush()
        del arr
