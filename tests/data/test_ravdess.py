"""RAVDESS: seven-field file names, speech-only selection, actor gender, 16/4/4 actor split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from staa.data.ravdess import CLASSES, RAVDESS
from staa.data.registry import build_corpus
from staa.errors import DataError


@pytest.fixture(scope="module")
def ravdess_root(tmp_path_factory: pytest.TempPathFactory, write_wav) -> Path:
    """``Audio_Speech_Actors_01-24/Actor_XX`` with one speech clip per actor and emotion, plus song clips.

    Shared by the module's tests, which only read it.
    """
    tmp_path = tmp_path_factory.mktemp("ravdess")
    base = tmp_path / "Audio_Speech_Actors_01-24"
    for actor in range(1, 25):
        for emotion in range(1, 9):
            write_wav(base / f"Actor_{actor:02d}" / f"03-01-{emotion:02d}-01-01-01-{actor:02d}.wav", seconds=0.02)
        write_wav(base / f"Actor_{actor:02d}" / f"03-02-03-02-01-01-{actor:02d}.wav", seconds=0.02)  # song
    return tmp_path


def test_speech_only_labels_and_actors(ravdess_root: Path) -> None:
    corpus = RAVDESS(ravdess_root)
    items = corpus.items()
    assert len(items) == 24 * 8  # the 24 song clips are excluded
    assert all(Path(it.path).name.split("-")[1] == "01" for it in items)
    for it in items:
        fields = Path(it.path).stem.split("-")
        assert it.label == CLASSES[int(fields[2]) - 1] and it.speaker == fields[6]
    assert Counter(it.label for it in items) == {c: 24 for c in CLASSES}
    named = {Path(it.path).name: it.label for it in items}
    assert named["03-01-05-01-01-01-12.wav"] == "anger" and named["03-01-08-01-01-01-03.wav"] == "surprise"


def test_actor_split_is_speaker_independent_and_gender_balanced(ravdess_root: Path) -> None:
    corpus = RAVDESS(ravdess_root)
    lists = corpus.speaker_splits()
    assert {s: len(v) for s, v in lists.items()} == {"train": 16, "val": 4, "test": 4}
    for speakers in lists.values():
        assert Counter(int(s) % 2 for s in speakers)[0] == len(speakers) // 2  # half even (female) actors
    assert sorted(sum(lists.values(), [])) == [f"{a:02d}" for a in range(1, 25)]
    assert RAVDESS(ravdess_root).items() == corpus.items()
    assert RAVDESS(ravdess_root, seed=3).speaker_splits() != lists


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("03-01-09-01-01-01-01.wav", "unknown RAVDESS emotion code 09"),
        ("03-01-01-01-01-01-25.wav", "unknown RAVDESS actor 25"),
        ("03-01-01-01-01-01.wav", "does not follow the ravdess scheme"),
    ],
)
def test_bad_names(tmp_path: Path, write_wav, name: str, message: str) -> None:
    write_wav(tmp_path / "Actor_01" / "03-01-01-01-01-01-01.wav")
    bad = write_wav(tmp_path / "Actor_01" / name)
    with pytest.raises(DataError, match=message) as err:
        RAVDESS(tmp_path).items()
    assert str(bad) in str(err.value)


def test_hidden_files_are_ignored(tmp_path: Path, write_wav) -> None:
    for actor in range(1, 7):
        write_wav(tmp_path / f"Actor_{actor:02d}" / f"03-01-01-01-01-01-{actor:02d}.wav")
    (tmp_path / "Actor_01" / "._03-01-01-01-01-01-01.wav").write_bytes(b"\0\5")  # macOS resource fork
    assert len(RAVDESS(tmp_path).items()) == 6


def test_registry_and_measured_length(ravdess_root: Path) -> None:
    corpus = build_corpus("ravdess", ravdess_root)
    assert isinstance(corpus, RAVDESS) and corpus.seconds == pytest.approx(0.1)  # 0.02 s clips round up
