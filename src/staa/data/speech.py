"""Training speech for a generator: any corpora, manifests and folders of audio, pooled into one cached set.

An untargeted generator needs no labels: every training step pushes each clip away from the threat
model's own prediction (:func:`staa.attacks.staa.validation.clean_labels`), so any speech is training
material, in any language, at any sample rate, labelled or not. A *source* is one of

* ``train`` — the threat corpus's own training split (what a generator trains on without a source list);
* a corpus, ``{corpus: NAME, root: FOLDER, splits: [...]}`` or ``NAME:FOLDER`` with a registered corpus name
  (all its splits unless ``splits`` says otherwise);
* a CSV manifest, ``{manifest: FILE.csv, splits: [...]}`` or ``FILE.csv``: with a ``label`` column it is
  read as :class:`~staa.data.manifest.ManifestCorpus`, without one only its ``path`` column is used
  (relative paths resolve against the CSV's folder);
* a folder, ``{folder: FOLDER}`` or any other string: every ``.wav``, ``.flac`` and ``.ogg`` file below it.

:func:`pooled_speech` decodes every source's clips once through the audio front end (down-mix, resample
to the threat corpus's rate, the threat corpus's length: tiled or cut to its head) into
``<cache>/speech-<key>/`` (``train.npy``, ``train_labels.npy``, ``manifest.json`` listing every clip and
its source), and returns a :class:`SpeechSet`: that pool as its training split, the threat corpus's
validation and test splits as they are. A clip keeps its label only where the threat model has a class
of that name; every other clip is labelled −1 ("none"), which the trainer never needs (the threat's
prediction is the label) and augmentation never mixes with another clip.

The generator is never trained on the clips it is scored on: a source clip that is one of the threat
corpus's validation or test files — the same resolved path, or the same bytes at another path (files of
equal size are hashed) — refuses the whole list in one line naming the file. A re-encoded copy (another
rate or format) is not recognised; keep other copies of a corpus out of the list yourself.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.format import open_memmap

from staa.audio import load_audio, unify_length
from staa.data.base import SPLITS, Corpus
from staa.data.cache import PreparedCorpus, Split
from staa.data.registry import CORPORA, build_corpus, check_corpus_options
from staa.errors import ConfigError, DataError
from staa.io.outputs import atomic_path, write_json
from staa.runtime.progress import progress
from staa.runtime.reproducibility import provenance

OWN = "train"  # the source that names the threat corpus's own training split
KINDS = ("train", "corpus", "manifest", "folder")
KEYS = {"corpus": {"corpus", "root", "splits"}, "manifest": {"manifest", "splits"}, "folder": {"folder"}}
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
NO_LABEL = -1


@dataclass(frozen=True)
class Source:
    """One source of training speech: its kind, the corpus name (kind ``corpus``), its path, its splits."""

    kind: str
    path: str = ""
    corpus: str = ""
    splits: tuple[str, ...] = SPLITS

    def describe(self) -> str:
        name = {"train": OWN, "corpus": f"{self.corpus}:{self.path}"}.get(self.kind, self.path)
        return (
            name if self.splits == SPLITS or self.kind in ("train", "folder") else f"{name} ({', '.join(self.splits)})"
        )


@dataclass
class Clip:
    """A clip of the pool: where it came from, its label (None: none), how to read it at a rate and length."""

    path: str
    label: str | None
    source: str
    read: Callable[[int, float], np.ndarray] = field(repr=False)


@dataclass
class SpeechSet(PreparedCorpus):
    """A prepared corpus whose training split is the pooled speech; validation and test are ``base``'s."""

    base: PreparedCorpus | None = None

    def split(self, name: str) -> Split:
        if name == "train" or self.base is None:
            return super().split(name)
        return self.base.split(name)


def parse_source(value: Any) -> Source:
    """One source from the experiment file (a string or a mapping) or from ``--data`` (a string)."""
    if isinstance(value, str):
        if value == OWN:
            return Source("train")
        name, sep, root = value.partition(":")
        if sep and root and name in CORPORA:
            return Source("corpus", root, name)
        return Source("manifest", value) if value.lower().endswith(".csv") else Source("folder", value)
    if not isinstance(value, Mapping):
        raise ConfigError(f"a training data source is a string or a mapping, got {value!r}")
    kinds = [k for k in KEYS if k in value]
    if len(kinds) != 1:
        raise ConfigError(f"a training data source names one of corpus, manifest or folder, got {dict(value)!r}")
    (kind,) = kinds
    unknown = sorted(set(value) - KEYS[kind])
    if unknown:
        raise ConfigError(
            f"training data source {kind}: unknown keys {unknown} (known: {', '.join(sorted(KEYS[kind]))})"
        )
    splits = value.get("splits", list(SPLITS))
    if not isinstance(splits, list) or not splits or any(s not in SPLITS for s in splits):
        raise ConfigError(f"training data source {kind}: splits must be a list of train, val, test, got {splits!r}")
    for key in sorted(KEYS[kind] - {"splits"}):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise ConfigError(f"training data source {kind}: {key} must be a string, got {value[key]!r}")
    if kind == "corpus":
        check_corpus_options(value["corpus"], {})
        return Source("corpus", value.get("root") or "", value["corpus"], tuple(splits))
    if not value[kind]:
        raise ConfigError(f"training data source {kind}: give its path")
    return Source(kind, value[kind], splits=tuple(splits))


def parse_sources(values: Any) -> list[Source]:
    """A non-empty list of sources (:func:`parse_source`), each at most once."""
    if not isinstance(values, list) or not values:
        raise ConfigError(f"training data: a non-empty list of sources, got {values!r}")
    sources = [parse_source(v) for v in values]
    if len(set(sources)) != len(sources):
        raise ConfigError("training data: a source is listed twice")
    return sources


def audio_files(folder: Path) -> list[Path]:
    """The audio files below ``folder`` (any depth), sorted, skipping hidden ones such as macOS ``._x.wav``."""
    if not folder.is_dir():
        raise DataError("training data folder not found", folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
                   and p.is_file())  # fmt: skip
    if not files:
        raise DataError(f"no {', '.join(AUDIO_SUFFIXES)} files in this folder or below it", folder)
    return files


def file_clip(path: Path, source: Source, label: str | None = None) -> Clip:
    def read(rate: int, seconds: float) -> np.ndarray:
        return load_audio(path, rate, max_seconds=seconds)

    return Clip(str(path.resolve()), label, source.describe(), read)


def corpus_clips(corpus: Corpus, source: Source) -> list[Clip]:
    def reader(item: Any) -> Callable[[int, float], np.ndarray]:
        return lambda rate, seconds: corpus.read(item, rate, max_seconds=seconds)

    items = [it for split in source.splits for it in corpus.items(split)]
    return [Clip(str(Path(it.path).resolve()), it.label, source.describe(), reader(it)) for it in items]


def manifest_paths(csv_path: Path) -> list[Path]:
    """The ``path`` column of a CSV manifest without labels, relative paths against the CSV's folder."""
    try:
        with csv_path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read the manifest ({str(exc).splitlines()[0]})", csv_path) from None
    if not rows or "path" not in rows[0]:
        raise DataError("a manifest needs a 'path' column and at least one row", csv_path)
    return [p if p.is_absolute() else csv_path.parent / p for p in (Path(r["path"] or "") for r in rows)]


def source_clips(source: Source) -> list[Clip]:
    """The clips of one source other than ``train`` (those are the threat corpus's rows)."""
    if source.kind == "folder":
        return [file_clip(p, source) for p in audio_files(Path(source.path))]
    if source.kind == "corpus":
        return corpus_clips(build_corpus(source.corpus, source.path or None), source)
    path = Path(source.path)
    if not path.is_file():
        raise DataError("training data manifest not found", path)
    with path.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])
    if "label" in header:
        return corpus_clips(build_corpus(str(path)), source)
    return [file_clip(p, source) for p in manifest_paths(path)]


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_unseen(clips: Sequence[Clip], base: PreparedCorpus) -> None:
    """Refuse any clip that is one of ``base``'s validation or test files (same path, or same bytes)."""
    scored = [Path(it["path"]) for s in ("val", "test") for it in base.split(s).items]
    paths = {str(p.resolve()) for p in scored}
    sizes: dict[int, set[str]] = {}
    for p in scored:
        if p.is_file():
            sizes.setdefault(p.stat().st_size, set()).add(str(p))
    for clip in clips:  # every path first: the cheap test names the plain case
        if clip.path in paths:
            raise DataError(
                f"is one of {base.name}'s validation or test clips: a generator never trains on them", clip.path
            )
    digests: dict[int, set[str]] = {}
    for clip in clips:
        size = Path(clip.path).stat().st_size if Path(clip.path).is_file() else -1
        if size in sizes:
            known = digests.setdefault(size, {file_digest(p) for p in sizes[size]})
            if file_digest(clip.path) in known:
                raise DataError(f"has the same bytes as one of {base.name}'s validation or test clips: a generator "
                                "never trains on them", clip.path)  # fmt: skip


def pool_key(sources: Sequence[Source], clips: Sequence[Clip], base: PreparedCorpus) -> str:
    """What the pool depends on: the threat corpus (its cache key), the sources, every file and its size."""
    h = hashlib.sha256(f"{base.path.name}|{base.sample_rate}|{base.length}|{base.classes}".encode())
    h.update(json.dumps([s.describe() for s in sources]).encode())
    for clip in clips:
        size = Path(clip.path).stat().st_size if Path(clip.path).is_file() else -1
        h.update(f"{clip.path}|{clip.label}|{size}".encode())
    return h.hexdigest()[:12]


def pooled_speech(
    sources: Sequence[Source], base: PreparedCorpus, cache_root: str | Path, *, show_progress: bool = True
) -> SpeechSet:
    """The training speech of ``sources`` at ``base``'s rate and length, cached in ``cache_root``; reused
    when it exists. Refuses a clip of ``base``'s validation or test split (:func:`check_unseen`)."""
    own = (
        [(i, Path(it["path"]), it["label"]) for i, it in enumerate(base.split("train").items)]
        if Source("train") in sources
        else []
    )
    clips = [c for s in sources if s.kind != "train" for c in source_clips(s)]
    check_unseen(clips, base)
    key = pool_key(sources, clips, base)
    out = Path(cache_root) / f"speech-{key}"
    pool = SpeechSet(out, base.name, list(base.classes), base.sample_rate, base.length, base=base)
    if (out / "manifest.json").exists():
        return pool
    out.mkdir(parents=True, exist_ok=True)
    index = {c: i for i, c in enumerate(base.classes)}
    records = [{"path": str(p), "label": label, "source": OWN} for _, p, label in own]
    records += [{"path": c.path, "label": c.label, "source": c.source} for c in clips]
    labels = np.array([index.get(r["label"], NO_LABEL) for r in records], dtype=np.int64)
    _write_waves(out / "train.npy", base, [i for i, _, _ in own], clips, show_progress)
    with atomic_path(out / "train_labels.npy") as tmp:
        np.save(tmp, labels)
    items = [{**r, "speaker": "", "split": "train"} for r in records]
    counts = {s.describe(): sum(r["source"] == s.describe() for r in records) for s in sources}
    write_json(out / "manifest.json", {
        "name": base.name, "classes": list(base.classes), "sample_rate": base.sample_rate, "length": base.length,
        "key": key, "base": base.path.name, "sources": counts, "labelled": int((labels != NO_LABEL).sum()),
        "splits": {"train": {"count": len(items), "items": items}}, "provenance": provenance(),
    })  # fmt: skip
    return pool


def _write_waves(target: Path, base: PreparedCorpus, own_rows: list[int], clips: Sequence[Clip], show: bool) -> None:
    """The pool's (N, L) waveforms: the threat corpus's own rows as prepared, then every clip decoded."""
    seconds = base.length / base.sample_rate + 0.5  # a little more, so the resampler's edge is cut off
    with atomic_path(target) as tmp:
        arr = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(own_rows) + len(clips), base.length))
        if own_rows:
            arr[: len(own_rows)] = np.asarray(base.split("train").waves)[own_rows]
        for i, clip in enumerate(progress(clips, "prepare training speech", show), start=len(own_rows)):
            arr[i] = unify_length(clip.read(base.sample_rate, seconds), base.length)
        arr.flush()
        del arr
