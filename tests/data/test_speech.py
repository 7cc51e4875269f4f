"""Training speech for a generator: sources parsed and checked, pooled at the threat corpus's rate and length,
labels kept only where the threat has the class, and never a clip of the validation or test split."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from staa.data.cache import prepare
from staa.data.manifest import ManifestCorpus
from staa.data.speech import NO_LABEL, Source, SpeechSet, parse_source, parse_sources, pooled_speech
from staa.errors import ConfigError, DataError

LABELS = ("anger", "neutral")


@pytest.fixture()
def labelled(tmp_path: Path, write_wav):
    """A 2-class corpus of real files (a CSV with a split column), prepared at 0.1 s: the threat's corpus."""
    lines = ["path,label,split"]
    for split in ("train", "val", "test"):
        for label in LABELS:
            write_wav(tmp_path / "corpus" / f"{split}_{label}.wav", seconds=0.1)
            lines.append(f"{split}_{label}.wav,{label},{split}")
    (tmp_path / "corpus" / "list.csv").write_text("\n".join(lines) + "\n")
    corpus = ManifestCorpus(tmp_path / "corpus" / "list.csv")
    return prepare(corpus, tmp_path / "cache", seconds=0.1, show_progress=False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("train", Source("train")),
        ("emodb:/data/emodb/wav", Source("corpus", "/data/emodb/wav", "emodb")),
        ("/data/extra.CSV", Source("manifest", "/data/extra.CSV")),
        ("/data/podcasts", Source("folder", "/data/podcasts")),
        ("notacorpus:/x", Source("folder", "notacorpus:/x")),
        (
            {"corpus": "nemo", "root": "/n", "splits": ["train", "val"]},
            Source("corpus", "/n", "nemo", ("train", "val")),
        ),
        ({"manifest": "m.csv"}, Source("manifest", "m.csv")),
        ({"folder": "f"}, Source("folder", "f")),
    ],
)
def test_sources_from_strings_and_mappings(value, expected) -> None:
    assert parse_source(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "non-empty list"),
        ("train", "non-empty list"),
        (["train", "train"], "listed twice"),
        ([{"folder": "f", "corpus": "emodb"}], "names one of corpus, manifest or folder"),
        ([{"folder": "f", "splits": ["train"]}], r"unknown keys \['splits'\]"),
        ([{"corpus": "nosuch", "root": "r"}], "unknown corpus 'nosuch'"),
        ([{"corpus": "emodb", "root": "r", "splits": ["dev"]}], "splits must be a list of train, val, test"),
        ([{"manifest": ""}], "give its path"),
        ([{"folder": 3}], "folder must be a string"),
        ([7], "a string or a mapping"),
    ],
)
def test_bad_source_lists_are_refused_in_one_line(value, message) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        parse_sources(value)
    assert "\n" not in str(err.value)


def test_a_folder_of_any_rate_is_pooled_without_labels_beside_the_own_training_split(
    labelled, tmp_path, write_wav
) -> None:
    folder = tmp_path / "extra"
    for i, rate in enumerate((8_000, 22_050, 48_000)):
        write_wav(folder / "deep" / f"clip{i}.wav", seconds=0.05 + 0.1 * i, sample_rate=rate)
    pool = pooled_speech(parse_sources(["train", str(folder)]), labelled, tmp_path / "cache", show_progress=False)
    train = pool.split("train")
    assert isinstance(pool, SpeechSet) and train.waves.shape == (2 + 3, labelled.length)
    own = labelled.split("train")
    np.testing.assert_array_equal(train.waves[:2], own.waves)
    assert train.labels.tolist() == own.labels.tolist() + [NO_LABEL] * 3
    assert [it["source"] for it in train.items][2:] == [str(folder)] * 3
    assert np.all(np.abs(np.asarray(train.waves)).max(axis=1) > 0)
    for split in ("val", "test"):  # validation and scoring stay on the threat corpus
        np.testing.assert_array_equal(pool.split(split).waves, labelled.split(split).waves)
    again = pooled_speech(parse_sources(["train", str(folder)]), labelled, tmp_path / "cache", show_progress=False)
    assert again.path == pool.path  # cached


def test_labels_are_kept_where_the_threat_has_the_class(labelled, tmp_path, write_wav) -> None:
    write_wav(tmp_path / "other" / "a.wav", seconds=0.1)
    write_wav(tmp_path / "other" / "b.wav", seconds=0.1)
    (tmp_path / "other" / "m.csv").write_text("path,label,split\na.wav,neutral,train\nb.wav,boredom,train\n")
    (tmp_path / "other" / "paths.csv").write_text("path\na.wav\n")
    pool = pooled_speech(
        parse_sources([str(tmp_path / "other" / "m.csv")]), labelled, tmp_path / "c", show_progress=False
    )
    assert pool.split("train").labels.tolist() == [LABELS.index("neutral"), NO_LABEL]
    unlabelled = pooled_speech([Source("manifest", str(tmp_path / "other" / "paths.csv"))], labelled, tmp_path / "c",
                               show_progress=False)  # fmt: skip
    assert unlabelled.split("train").labels.tolist() == [NO_LABEL]


@pytest.mark.parametrize("split", ["val", "test"])
def test_a_clip_the_generator_is_scored_on_is_refused(labelled, tmp_path, split) -> None:
    with pytest.raises(DataError, match="validation or test clips") as err:
        pooled_speech(parse_sources([str(tmp_path / "corpus")]), labelled, tmp_path / "cache", show_progress=False)
    assert "_anger.wav" in str(err.value) and ("val_" in str(err.value) or "test_" in str(err.value))
    copy = tmp_path / "copies" / "renamed.wav"  # the same bytes under another name
    copy.parent.mkdir()
    shutil.copy(tmp_path / "corpus" / f"{split}_neutral.wav", copy)
    with pytest.raises(DataError, match="same bytes") as err:
        pooled_speech(parse_sources([str(copy.parent)]), labelled, tmp_path / "cache", show_progress=False)
    assert "renamed.wav" in str(err.value)
    assert not list((tmp_path / "cache").glob("speech-*"))  # refused before anything was written


def test_training_clips_of_the_same_corpus_are_allowed(labelled, tmp_path) -> None:
    source = {"manifest": str(tmp_path / "corpus" / "list.csv"), "splits": ["train"]}
    pool = pooled_speech(parse_sources([source]), labelled, tmp_path / "cache", show_progress=False)
    assert len(pool.split("train")) == 2
    with pytest.raises(DataError, match="validation or test clips"):
        pooled_speech(parse_sources([{**source, "splits": ["train", "test"]}]), labelled, tmp_path / "cache",
                      show_progress=False)  # fmt: skip


def test_an_empty_or_missing_folder_is_named(labelled, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .wav, .flac, .ogg files"):
        pooled_speech([Source("folder", str(tmp_path / "empty"))], labelled, tmp_path / "cache", show_progress=False)
    with pytest.raises(DataError, match="training data folder not found"):
        pooled_speech([Source("folder", str(tmp_path / "nope"))], labelled, tmp_path / "cache", show_progress=False)
