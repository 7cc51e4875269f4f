"""CSV manifests: columns, path resolution, class order, the three split rules, one-line errors."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from staa.data.manifest import ManifestCorpus, stratified_split
from staa.data.registry import build_corpus
from staa.errors import DataError


@pytest.fixture
def clips(tmp_path: Path, write_wav) -> Path:
    """Folder with audio/s{speaker}_{label}{k}.wav: 5 speakers x 3 labels x 2 clips of 0.02 s."""
    for speaker in range(5):
        for label in ("sad", "angry", "calm"):
            for k in range(2):
                write_wav(tmp_path / "audio" / f"s{speaker}_{label}{k}.wav", seconds=0.02)
    return tmp_path


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def rows_for(root: Path, *, speaker: bool, split: bool = False) -> list[str]:
    rows = []
    for wav in sorted((root / "audio").glob("*.wav")):
        spk, label = wav.stem.split("_")[0], wav.stem.split("_")[1][:-1]
        fields = [f"audio/{wav.name}", label]
        if speaker:
            fields.append(spk)
        if split:
            fields.append({"s0": "val", "s1": "test"}.get(spk, "train"))
        rows.append(",".join(fields))
    return rows


def test_given_splits_relative_paths_and_sorted_classes(clips: Path) -> None:
    csv = write_csv(clips / "set.csv", "path,label,speaker,split", rows_for(clips, speaker=True, split=True))
    corpus = ManifestCorpus(csv)
    items = corpus.items()
    assert len(items) == 30 and corpus.classes == ("angry", "calm", "sad")
    assert all(Path(it.path).is_file() and Path(it.path).is_absolute() for it in items)
    assert {it.speaker for it in corpus.items("val")} == {"s0"}
    assert {it.speaker for it in corpus.items("test")} == {"s1"}
    assert corpus.name == "manifest-set"
    assert ManifestCorpus(csv, classes=["sad", "calm", "angry"]).classes == ("sad", "calm", "angry")


def test_speaker_independent_split_ignores_row_order(clips: Path) -> None:
    rows = rows_for(clips, speaker=True)
    corpus = ManifestCorpus(write_csv(clips / "a.csv", "path,label,speaker", rows))
    lists = corpus.speaker_splits()
    assert {s: len(v) for s, v in lists.items()} == {"train": 3, "val": 1, "test": 1}
    assert sorted(sum(lists.values(), [])) == [f"s{i}" for i in range(5)]
    random.Random(1).shuffle(rows)
    shuffled = ManifestCorpus(write_csv(clips / "b.csv", "path,label,speaker", rows))
    assert shuffled.speaker_splits() == lists
    assert {it.path: it.split for it in shuffled.items()} == {it.path: it.split for it in corpus.items()}


def test_stratified_split_without_speakers(clips: Path) -> None:
    corpus = ManifestCorpus(write_csv(clips / "m.csv", "path,label", rows_for(clips, speaker=False)), seed=4)
    counts = Counter((it.label, it.split) for it in corpus.items())
    for label in corpus.classes:  # 10 clips per label: 6 / 2 / 2
        assert (counts[(label, "train")], counts[(label, "val")], counts[(label, "test")]) == (6, 2, 2)
    assert {it.speaker for it in corpus.items()} == {"unknown"}
    other = ManifestCorpus(clips / "m.csv", seed=5)
    assert [it.split for it in other.items()] != [it.split for it in corpus.items()]


def test_stratified_split_small_labels_train_only() -> None:
    out = stratified_split({"a1": "a", "a2": "a", "b1": "b", "b2": "b", "b3": "b"}, (0.6, 0.2, 0.2), seed=0)
    assert [out["a1"], out["a2"]] == ["train", "train"]
    assert sorted(out[k] for k in ("b1", "b2", "b3")) == ["test", "train", "val"]


def test_registry_builds_manifest_and_measures_length(clips: Path) -> None:
    csv = write_csv(clips / "set.csv", "path,label,speaker", rows_for(clips, speaker=True))
    corpus = build_corpus(str(csv))
    assert isinstance(corpus, ManifestCorpus) and corpus.seconds == pytest.approx(0.1)
    assert ManifestCorpus(csv, seconds=1.5).seconds == 1.5


ONE_ROW = "path,label,split\naudio/s0_sad0.wav,sad,train\n"
ERRORS = [
    ("wrong_columns", "file,label\naudio/s0_sad0.wav,sad\n", "missing column\\(s\\) path"),
    ("missing_file", ONE_ROW + "audio/nope.wav,sad,val\n", "row 3: audio file not found"),
    ("bad_split", "path,label,split\naudio/s0_sad0.wav,sad,dev\n", "row 2: bad split 'dev'"),
    ("duplicate", ONE_ROW + "./audio/s0_sad0.wav,sad,val\n", "row 3: duplicate of row 2"),
    ("empty", "", "empty manifest \\(no header row\\)"),
    ("header_only", "path,label\n", "empty manifest \\(a header but no rows\\)"),
    ("empty_label", "path,label\naudio/s0_sad0.wav,\n", "row 2: empty 'label'"),
    ("empty_split", "path,label,split\naudio/s0_sad0.wav,sad,\n", "row 2: empty 'split'"),
    ("two_speakers", "path,label,speaker\naudio/s0_sad0.wav,sad,a\naudio/s1_sad0.wav,sad,b\n", "at least 3 speakers"),
]


@pytest.mark.parametrize(("case", "text", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_csv_and_row(clips: Path, case: str, text: str, message: str) -> None:
    csv = clips / f"{case}.csv"
    csv.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        ManifestCorpus(csv).items()
    assert str(err.value).startswith(str(csv)) and "\n" not in str(err.value)


def test_unknown_label_when_classes_given(clips: Path) -> None:
    csv = write_csv(clips / "c.csv", "path,label,split", ["audio/s0_sad0.wav,sad,train", "audio/s0_calm0.wav,calm,val"])
    with pytest.raises(DataError, match="row 3: unknown label 'calm'"):
        ManifestCorpus(csv, classes=["sad", "angry"]).items()


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="manifest not found"):
        ManifestCorpus(tmp_path / "absent.csv")
