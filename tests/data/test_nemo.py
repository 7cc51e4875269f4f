"""nEMO: labels from data.tsv checked against the file names, the fixed speaker split, bad tables refused."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from staa.data.cache import prepare
from staa.data.nemo import CLASSES, GENDERS, NEMO, SPEAKER_SPLIT
from staa.data.ravdess import CLASSES as RAVDESS_CLASSES
from staa.data.registry import build_corpus
from staa.errors import DataError

HEADER = "file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage"
GENDER_WORD = {"f": "female", "m": "male"}


def tsv_row(name: str, emotion: str, speaker: str, gender: str) -> str:
    """One ``data.tsv`` row as nEMO writes it: a transcript with quotation marks, the speaker padded."""
    return f"{name}\t{emotion}\t„Ala” ma kota.\tala ma kota\t        {speaker}\t{gender}\t25"


def make_nemo(root: Path, write_wav, rows: list[tuple[str, str, str]] | None = None) -> Path:
    """A tiny nEMO-style folder: two 24 kHz clips per speaker (two emotions), listed in ``data.tsv``."""
    if rows is None:
        rows = [(f"{spk}_{emo}_{n}.wav", emo, spk) for spk in GENDERS for n, emo in enumerate(CLASSES[:2], start=1)]
    lines = [HEADER]
    for name, emotion, speaker in rows:
        write_wav(root / "samples" / name, seconds=0.03, sample_rate=24_000)
        lines.append(tsv_row(name, emotion, speaker, GENDER_WORD.get(GENDERS.get(speaker, "f"), "female")))
    (root / "data.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_labels_and_speakers_come_from_the_table_and_agree_with_the_names(tmp_path: Path, write_wav) -> None:
    corpus = build_corpus("nemo", make_nemo(tmp_path, write_wav))
    items = corpus.items()
    assert len(items) == 2 * len(GENDERS)
    for it in items:
        speaker, emotion, _ = Path(it.path).stem.split("_")
        assert (it.label, it.speaker) == (emotion, speaker)
    assert Counter(it.label for it in items) == {CLASSES[0]: len(GENDERS), CLASSES[1]: len(GENDERS)}


def test_surprised_is_named_as_the_other_corpora_name_it(tmp_path: Path, write_wav) -> None:
    rows = [("EB0_surprised_1.wav", "surprised", "EB0"), ("KD0_anger_1.wav", "anger", "KD0")]
    items = build_corpus("nemo", make_nemo(tmp_path, write_wav, rows)).items()
    assert sorted(it.label for it in items) == ["anger", "surprise"]
    assert set(CLASSES) <= set(RAVDESS_CLASSES)  # every nEMO class keeps its row when a RAVDESS model fine-tunes


def test_every_split_holds_both_genders(tmp_path: Path, write_wav) -> None:
    lists = NEMO(make_nemo(tmp_path, write_wav)).speaker_splits()
    assert lists == {
        s: sorted(spk for spk, split in SPEAKER_SPLIT.items() if split == s) for s in ("train", "val", "test")
    }
    for speakers in lists.values():
        assert {GENDERS[spk] for spk in speakers} == {"f", "m"}
    assert sum(len(v) for v in lists.values()) == len(GENDERS) == len(SPEAKER_SPLIT)


def test_prepared_clips_are_resampled_to_16_khz_at_the_default_length(tmp_path: Path, write_wav) -> None:
    pc = prepare(NEMO(make_nemo(tmp_path / "nemo", write_wav)), tmp_path / "cache", show_progress=False)
    test = pc.split("test")
    assert pc.length == round(NEMO.default_seconds * 16_000) and test.waves.shape == (4, pc.length)
    assert pc.classes == list(CLASSES) and np.all(np.abs(np.asarray(test.waves)).max(axis=1) > 0)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("EB0_anger_1.wav", "fear", "EB0")], "data.tsv says fear by EB0, the file name anger by EB0"),
        ([("EB0_anger_1.wav", "anger", "IC0")], "data.tsv says anger by IC0"),
        ([("EB0_joy_1.wav", "joy", "EB0")], "unknown nEMO emotion 'joy'"),
        ([("XX0_anger_1.wav", "anger", "XX0")], "unknown nEMO speaker XX0"),
        ([("EB0_anger.wav", "anger", "EB0")], "does not follow the nemo scheme"),
    ],
)
def test_a_row_that_disagrees_with_its_file_is_named(tmp_path: Path, write_wav, rows, message) -> None:
    make_nemo(tmp_path, write_wav, rows)
    with pytest.raises(DataError, match=message) as err:
        NEMO(tmp_path).items()
    assert rows[0][0] in str(err.value) and "\n" not in str(err.value)


def test_a_listed_file_that_is_missing_is_named(tmp_path: Path, write_wav) -> None:
    make_nemo(tmp_path, write_wav)
    (tmp_path / "samples" / "KD0_fear_2.wav").unlink()
    with pytest.raises(DataError, match="listed in data.tsv but missing") as err:
        NEMO(tmp_path).items()
    assert "KD0_fear_2.wav" in str(err.value)


def test_a_file_the_table_does_not_list_is_named(tmp_path: Path, write_wav) -> None:
    make_nemo(tmp_path, write_wav)
    write_wav(tmp_path / "samples" / "EB0_sadness_9.wav", seconds=0.03, sample_rate=24_000)
    with pytest.raises(DataError, match="not listed in data.tsv") as err:
        NEMO(tmp_path).items()
    assert "EB0_sadness_9.wav" in str(err.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (None, "data.tsv not found"),
        ("file_id\temotion\tgender\n", "lacks the columns speaker_id"),
        (HEADER + "\nEB0_anger_1.wav\tanger\n", "line 2 has 2 fields, the header 7"),
        (HEADER + "\n" + tsv_row("EB0_anger_1.wav", "anger", "EB0", "female") * 2, "line 2 has 13 fields"),
        (HEADER + "\n" + tsv_row("EB0_anger_1.wav", "anger", "EB0", "male"), "gender 'male', expected f"),
    ],
)
def test_a_bad_table_is_refused_in_one_line(tmp_path: Path, write_wav, table, message) -> None:
    write_wav(tmp_path / "samples" / "EB0_anger_1.wav", seconds=0.03, sample_rate=24_000)
    if table is not None:
        (tmp_path / "data.tsv").write_text(table, encoding="utf-8")
    with pytest.raises(DataError, match=message) as err:
        NEMO(tmp_path).items()
    assert "\n" not in str(err.value)


def test_a_file_listed_twice_is_refused(tmp_path: Path, write_wav) -> None:
    make_nemo(tmp_path, write_wav, [("EB0_anger_1.wav", "anger", "EB0")])
    with (tmp_path / "data.tsv").open("a", encoding="utf-8") as f:
        f.write(tsv_row("EB0_anger_1.wav", "anger", "EB0", "female") + "\n")
    with pytest.raises(DataError, match="line 3 lists EB0_anger_1.wav a second time"):
        NEMO(tmp_path).items()
