"""RAVDESS: seven-field file names, speech-only selection, the fixed 16/4/4 actor split, and the real subset."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from staa.audio import load_audio, unify_length
from staa.data.cache import prepare
from staa.data.ravdess import ACTOR_SPLIT, CLASSES, RAVDESS
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


def test_fixed_actor_split_is_60_20_20_per_gender(ravdess_root: Path) -> None:
    corpus = RAVDESS(ravdess_root)
    lists = corpus.speaker_splits()
    assert lists == {
        "train": ["01", "02", "05", "06", "09", "10", "13", "14", "17", "18", "19", "20", "21", "22", "23", "24"],
        "val": ["03", "08", "11", "16"],
        "test": ["04", "07", "12", "15"],
    }
    for speakers in lists.values():
        assert Counter(int(s) % 2 for s in speakers)[0] == len(speakers) // 2  # half even (female) actors
    assert {it.speaker: it.split for it in corpus.items()} == ACTOR_SPLIT
    assert Counter(it.split for it in corpus.items()) == {"train": 128, "val": 32, "test": 32}


def test_the_first_four_actors_split_two_one_one(tmp_path: Path, write_wav) -> None:
    """The layout of the shared subset: both genders train, one actor each for val and test."""
    for actor in range(1, 5):
        for emotion in (1, 5):
            write_wav(tmp_path / f"Actor_{actor:02d}" / f"03-01-{emotion:02d}-01-01-01-{actor:02d}.wav")
    assert RAVDESS(tmp_path).speaker_splits() == {"train": ["01", "02"], "val": ["03"], "test": ["04"]}


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


def test_registry_and_default_length(ravdess_root: Path) -> None:
    corpus = build_corpus("ravdess", ravdess_root)
    assert isinstance(corpus, RAVDESS) and corpus.seconds == 3.5
    assert RAVDESS(ravdess_root, seconds=2.0).seconds == 2.0


@pytest.fixture(scope="module")
def subset(ravdess_subset: Path) -> RAVDESS:
    return build_corpus("ravdess", ravdess_subset)


def test_real_subset_parses_every_wav(subset: RAVDESS, ravdess_subset: Path) -> None:
    wavs = sorted(p.name for p in ravdess_subset.glob("Actor_*/*.wav"))
    items = subset.items()
    assert sorted(Path(it.path).name for it in items) == wavs and len(wavs) == 240
    assert Counter(it.speaker for it in items) == {"01": 60, "02": 60, "03": 60, "04": 60}
    assert subset.speaker_splits() == {"train": ["01", "02"], "val": ["03"], "test": ["04"]}
    for split in ("train", "val", "test"):  # every class in every split; neutral has no strong intensity
        counts = Counter(it.label for it in subset.items(split))
        assert counts == {c: (4 if c == "neutral" else 8) * (2 if split == "train" else 1) for c in CLASSES}
    assert {sf.info(it.path).samplerate for it in items} == {48_000}


def test_real_subset_prepares_at_16k_and_3_5_s(subset: RAVDESS, tmp_path: Path) -> None:
    prepared = prepare(subset, tmp_path, show_progress=False)
    assert prepared.length == 56_000 and prepared.sample_rate == 16_000 and prepared.classes == list(CLASSES)
    for name, n in (("train", 120), ("val", 60), ("test", 60)):
        split = prepared.split(name)
        assert split.waves.shape == (n, 56_000) and split.waves.dtype == np.float32
        assert split.labels.tolist() == [CLASSES.index(it.label) for it in subset.items(name)]
        assert np.all(np.abs(split.waves) <= 1.0) and np.all(np.abs(split.waves).max(axis=1) > 0.005)
    first = subset.items("test")[0]
    x = load_audio(first.path)
    assert len(x) == pytest.approx(sf.info(first.path).frames / 3, abs=1)  # 48 kHz → 16 kHz
    np.testing.assert_allclose(prepared.split("test").waves[0], unify_length(x, 56_000), atol=1e-6)
