"""The prepared-corpus cache: decoded once, keyed by length and rate, complete split files, counted manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from staa.data.base import Item
from staa.data.cache import PreparedCorpus, Split, cache_key, prepare
from staa.data.manifest import ManifestCorpus


@pytest.fixture
def manifest(tmp_path: Path, write_wav) -> Path:
    """6 speakers x 2 labels x 2 clips of 0.1 s at 22.05 kHz (so preparation really resamples)."""
    rows = ["path,label,speaker"]
    for speaker in range(6):
        for label in ("low", "high"):
            for k in range(2):
                name = f"audio/{speaker}_{label}{k}.wav"
                write_wav(tmp_path / name, seconds=0.1, sample_rate=22_050)
                rows.append(f"{name},{label},spk{speaker}")
    (tmp_path / "set.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "set.csv"


def counting(corpus: ManifestCorpus) -> list[Item]:
    """Record every item the corpus decodes (wraps ``read`` on this instance)."""
    reads: list[Item] = []
    read = corpus.read

    def counted(item: Item, sample_rate: int = 16_000, max_seconds: float | None = None) -> np.ndarray:
        reads.append(item)
        return read(item, sample_rate, max_seconds)

    corpus.read = counted  # type: ignore[method-assign]
    return reads


def test_second_prepare_reuses_the_cache_without_decoding(manifest: Path, tmp_path: Path) -> None:
    first = ManifestCorpus(manifest, seconds=0.25)
    reads = counting(first)
    prepared = prepare(first, tmp_path / "cache", show_progress=False)
    assert len(reads) == len(first.items()) == 24
    again = ManifestCorpus(manifest, seconds=0.25)
    reads_again = counting(again)
    assert prepare(again, tmp_path / "cache", show_progress=False).path == prepared.path
    assert reads_again == []


def test_key_changes_with_length_and_sample_rate(manifest: Path, tmp_path: Path) -> None:
    corpus = ManifestCorpus(manifest)
    keys = {cache_key(corpus, 16_000, 4000), cache_key(corpus, 16_000, 8000), cache_key(corpus, 8_000, 4000)}
    assert len(keys) == 3
    a = prepare(corpus, tmp_path / "cache", seconds=0.25, show_progress=False)
    b = prepare(corpus, tmp_path / "cache", seconds=0.5, show_progress=False)
    c = prepare(corpus, tmp_path / "cache", seconds=0.25, sample_rate=8_000, show_progress=False)
    assert len({a.path, b.path, c.path}) == 3
    assert (a.length, b.length, c.length) == (4000, 8000, 2000)
    assert c.split("train").waves.shape[1] == 2000


def test_split_files_are_complete_and_manifest_counts(manifest: Path, tmp_path: Path) -> None:
    corpus = ManifestCorpus(manifest, seconds=0.25)
    prepared = prepare(corpus, tmp_path / "cache", show_progress=False)
    assert not [p.name for p in prepared.path.iterdir() if p.name.endswith(".tmp") or p.name.endswith(".tmp.npy")]
    record = json.loads((prepared.path / "manifest.json").read_text())
    assert record["length"] == 4000 and record["sample_rate"] == 16_000 and "provenance" in record
    assert sum(record["splits"][s]["count"] for s in ("train", "val", "test")) == 24
    for name in ("train", "val", "test"):
        split = prepared.split(name)
        items = corpus.items(name)
        assert split.waves.shape == (len(items), 4000)
        assert np.all(np.abs(split.waves).max(axis=1) > 0)  # every row written (0.1 s clips tiled to 0.25 s)
        np.testing.assert_array_equal(split.waves[:, 1600:3200], split.waves[:, :1600])  # cyclic tiling
        counts = record["splits"][name]["label_counts"]
        assert record["splits"][name]["count"] == len(items) == len(split)
        assert counts == {c: int((split.labels == i).sum()) for i, c in enumerate(corpus.classes)}
        assert [d["path"] for d in split.items] == [it.path for it in items]
    loaded = PreparedCorpus.load(prepared.path)
    assert (loaded.name, loaded.classes, loaded.length) == (corpus.name, list(corpus.classes), 4000)


def test_interrupted_preparation_resumes_at_the_missing_split(manifest: Path, tmp_path: Path) -> None:
    corpus = ManifestCorpus(manifest, seconds=0.25)
    prepared = prepare(corpus, tmp_path / "cache", show_progress=False)
    val = np.array(prepared.split("val").waves)
    (prepared.path / "manifest.json").unlink()
    (prepared.path / "val.npy").unlink()
    resumed = ManifestCorpus(manifest, seconds=0.25)
    reads = counting(resumed)
    prepare(resumed, tmp_path / "cache", show_progress=False)
    assert {it.split for it in reads} == {"val"} and len(reads) == len(resumed.items("val"))
    np.testing.assert_array_equal(prepared.split("val").waves, val)


def test_a_longer_prepared_length_than_the_corpus_default_keeps_the_real_audio(tmp_path: Path) -> None:
    """``prepare(seconds=S)`` above the corpus default must read S seconds, not tile a shorter head."""
    import soundfile as sf

    ramp = np.linspace(-0.5, 0.5, 3 * 16_000, dtype=np.float32)
    rows = ["path,label,speaker,split"]
    for i, split in enumerate(("train", "val", "test")):
        sf.write(tmp_path / f"r{i}.wav", ramp, 16_000, subtype="FLOAT")
        rows.append(f"r{i}.wav,a,s{i},{split}")
    (tmp_path / "ramp.csv").write_text("\n".join(rows) + "\n")
    prepared = prepare(
        ManifestCorpus(tmp_path / "ramp.csv", seconds=1.0), tmp_path / "cache", seconds=2.5, show_progress=False
    )
    row = np.asarray(prepared.split("train").waves[0])
    np.testing.assert_allclose(row, ramp[:40_000], atol=1e-6)


def test_a_drawn_split_keeps_the_rows_of_its_clips_in_order_and_is_fixed_by_the_seed() -> None:
    waves = np.arange(40, dtype=np.float32).reshape(10, 4)
    split = Split(waves, np.arange(10) % 3, [{"path": f"{i}.wav"} for i in range(10)])
    a, b, other = split.drawn(4, seed=0), split.drawn(4, seed=0), split.drawn(4, seed=1)
    rows = [int(w[0]) // 4 for w in a.waves]
    assert len(a) == 4 and rows == sorted(set(rows)) and all(0 <= r < 10 for r in rows)
    assert a.labels.tolist() == [r % 3 for r in rows] and [it["path"] for it in a.items] == [f"{r}.wav" for r in rows]
    assert np.array_equal(a.waves, b.waves) and not np.array_equal(a.waves, other.waves)
    assert split.drawn(None, seed=0) is split and split.drawn(10, seed=0) is split
