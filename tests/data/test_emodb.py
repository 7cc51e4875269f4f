"""EmoDB: file-name codes, the fixed speaker table, measured default length, and the real-speech subset."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from staa.audio import load_audio, unify_length
from staa.data.cache import prepare
from staa.data.emodb import CLASSES, GENDERS, SPEAKER_SPLIT, EmoDB
from staa.data.registry import build_corpus
from staa.errors import DataError

LETTERS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}


@pytest.fixture
def emodb_root(tmp_path: Path, write_wav) -> Path:
    """The distribution layout (``wav/``): every speaker says text a01 in every emotion."""
    for speaker in GENDERS:
        for letter in LETTERS:
            write_wav(tmp_path / "wav" / f"{speaker}a01{letter}a.wav")
    return tmp_path


def test_letters_speakers_and_fixed_split(emodb_root: Path) -> None:
    corpus = EmoDB(emodb_root)
    items = corpus.items()
    assert len(items) == 10 * 7
    for it in items:
        name = Path(it.path).name
        assert it.label == LETTERS[name[5]] and it.speaker == name[:2]
        assert it.split == SPEAKER_SPLIT[it.speaker]
    lists = corpus.speaker_splits()
    assert lists == {"train": ["09", "10", "11", "12", "13", "14"], "val": ["08", "15"], "test": ["03", "16"]}
    for speakers in lists.values():
        assert {GENDERS[s] for s in speakers} == {"f", "m"}


def test_wavs_directly_in_root(tmp_path: Path, write_wav) -> None:
    for speaker in ("03", "08", "09", "10"):
        write_wav(tmp_path / f"{speaker}b02Wc.wav")
    (tmp_path / "README.md").write_text("not audio")
    assert sorted(it.speaker for it in EmoDB(tmp_path).items()) == ["03", "08", "09", "10"]


def test_measured_default_length_and_override(tmp_path: Path, write_wav) -> None:
    """Durations 1.0..1.9 s: the 90th percentile is 1.81 s, rounded up to 1.9 s."""
    for k, speaker in enumerate(("03", "08", "09", "10", "11", "12", "13", "14", "15", "16")):
        write_wav(tmp_path / f"{speaker}a01Wa.wav", seconds=1.0 + 0.1 * k)
    assert EmoDB(tmp_path).seconds == pytest.approx(1.9)
    assert EmoDB(tmp_path, seconds=3.0).seconds == 3.0


@pytest.mark.parametrize(
    ("name", "message"),
    [("03a01Xa.wav", "does not follow the emodb scheme"), ("05a01Wa.wav", "unknown EmoDB speaker 05")],
)
def test_bad_names(tmp_path: Path, write_wav, name: str, message: str) -> None:
    write_wav(tmp_path / "03a01Wa.wav")
    bad = write_wav(tmp_path / name)
    with pytest.raises(DataError, match=message) as err:
        EmoDB(tmp_path).items()
    assert str(bad) in str(err.value)


def test_subset_without_val_speaker_fails_at_prepare(tmp_path: Path, write_wav) -> None:
    for speaker in ("09", "03"):
        write_wav(tmp_path / "wav" / f"{speaker}a01Wa.wav")
    with pytest.raises(DataError, match="split 'val' of corpus 'emodb' is empty"):
        prepare(EmoDB(tmp_path), tmp_path / "cache", show_progress=False)


@pytest.fixture
def subset(emodb_subset: Path) -> EmoDB:
    return build_corpus("emodb", emodb_subset)


def test_real_subset_parses_every_wav(subset: EmoDB, emodb_subset: Path) -> None:
    wavs = sorted(p.name for p in emodb_subset.glob("*.wav"))
    items = subset.items()
    assert sorted(Path(it.path).name for it in items) == wavs and len(wavs) == 188
    assert Counter(it.speaker for it in items) == {"03": 49, "08": 58, "09": 43, "10": 38}
    assert {it.label for it in items} == set(CLASSES)
    assert subset.speaker_splits() == {"train": ["09", "10"], "val": ["08"], "test": ["03"]}
    assert {it.label for it in subset.items("train")} == set(CLASSES)
    assert subset.seconds == 2.0  # every clip of the subset lasts 2.0 s


def test_real_subset_prepares(subset: EmoDB, tmp_path: Path) -> None:
    prepared = prepare(subset, tmp_path, show_progress=False)
    assert prepared.length == 32_000 and prepared.classes == list(CLASSES)
    for name, n in (("train", 81), ("val", 58), ("test", 49)):
        split = prepared.split(name)
        assert split.waves.shape == (n, 32_000) and split.waves.dtype == np.float32
        expected = [CLASSES.index(it.label) for it in subset.items(name)]
        assert split.labels.tolist() == expected
        assert np.all(np.abs(split.waves) <= 1.0) and np.all(np.abs(split.waves).max(axis=1) > 0.01)
    first = subset.items("test")[0]
    np.testing.assert_allclose(prepared.split("test").waves[0], unify_length(load_audio(first.path), 32_000), atol=1e-6)
