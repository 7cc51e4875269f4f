"""DEMoS: labels and speakers from file names, neutral exclusion, gender-stratified speaker split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from staa.data.demos import CLASSES, DEMoS
from staa.data.registry import build_corpus
from staa.errors import DataError

CODES = ("rab", "dis", "pau", "col", "gio", "tri", "sor")


@pytest.fixture
def demos_root(tmp_path: Path, write_wav) -> Path:
    """The distribution layout: DEMOS/ with PR_ and NP_ clips of 3 female + 3 male speakers, NEU/ apart."""
    root = tmp_path / "DEMoS"
    for gender, ids in (("f", (3, 12, 43)), ("m", (5, 20, 61))):
        for number in ids:
            for k, code in enumerate(CODES):
                prefix = "PR" if k % 2 else "NP"
                write_wav(root / "DEMOS" / f"{prefix}_{gender}_{number:02d}_{code}{k:02d}b.wav")
            write_wav(root / "NEU" / f"{gender}_{number:02d}_neu01.wav")
    write_wav(root / "NEU" / "neutral_take_7.wav")  # any name is fine inside NEU: never parsed
    write_wav(root / "DEMOS" / "PR_m_05_neu02a.wav")  # a neutral code outside NEU is excluded too
    return root


def test_labels_speakers_and_neutral_exclusion(demos_root: Path) -> None:
    corpus = DEMoS(demos_root)
    items = corpus.items()
    assert len(items) == 6 * 7
    by_name = {Path(it.path).name: it for it in items}
    assert by_name["NP_f_43_rab00b.wav"].label == "anger"
    assert by_name["PR_f_43_dis01b.wav"].label == "disgust"
    assert by_name["NP_m_05_pau02b.wav"].label == "fear"
    assert by_name["PR_m_20_col03b.wav"].label == "guilt"
    assert by_name["NP_f_03_gio04b.wav"].label == "happiness"
    assert by_name["PR_m_61_tri05b.wav"].label == "sadness"
    assert by_name["NP_f_12_sor06b.wav"].label == "surprise"
    assert by_name["NP_f_03_gio04b.wav"].speaker == "f03"
    assert not any("neu" in name for name in by_name)
    assert Counter(it.label for it in items) == {c: 6 for c in CLASSES}
    assert all(Path(it.path).is_absolute() for it in items)
    assert corpus.seconds == 6.0


def test_split_is_speaker_independent_gender_stratified_and_deterministic(demos_root: Path) -> None:
    corpus = DEMoS(demos_root)
    lists = corpus.speaker_splits()
    assert sorted(sum(lists.values(), [])) == ["f03", "f12", "f43", "m05", "m20", "m61"]
    for split, speakers in lists.items():
        assert sorted(s[0] for s in speakers) == ["f", "m"], split  # one speaker of each gender per split
        assert {it.speaker for it in corpus.items(split)} == set(speakers)
    assert DEMoS(demos_root).items() == corpus.items()
    assignments = {tuple(sorted(DEMoS(demos_root, seed=s).speaker_splits()["test"])) for s in range(8)}
    assert len(assignments) > 1  # the seed really moves speakers


def test_paper_scale_speaker_counts(tmp_path: Path, write_wav) -> None:
    """68 speakers (23 f, 45 m) split 40/30/30 per gender: 9/7/7 female and 17/14/14 male speakers."""
    for number in range(1, 69):
        gender = "f" if number <= 23 else "m"
        write_wav(tmp_path / f"PR_{gender}_{number:02d}_rab01a.wav", seconds=0.01)
    lists = DEMoS(tmp_path).speaker_splits()
    counts = {s: Counter(spk[0] for spk in speakers) for s, speakers in lists.items()}
    assert counts == {"train": {"f": 9, "m": 17}, "val": {"f": 7, "m": 14}, "test": {"f": 7, "m": 14}}


def test_unknown_name_is_a_one_line_error(demos_root: Path, write_wav) -> None:
    bad = write_wav(demos_root / "DEMOS" / "PR_f_43_xyz01a.wav")
    with pytest.raises(DataError, match="does not follow the demos scheme") as err:
        DEMoS(demos_root).items()
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_empty_or_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no demos files"):
        DEMoS(tmp_path).items()
    with pytest.raises(DataError, match="root folder not found"):
        DEMoS(tmp_path / "absent").items()


def test_too_few_speakers_of_a_gender(tmp_path: Path, write_wav) -> None:
    for name in ("PR_f_01_rab01a.wav", "PR_f_02_rab01a.wav", "PR_m_03_rab01a.wav", "PR_m_04_rab01a.wav"):
        write_wav(tmp_path / name)
    write_wav(tmp_path / "PR_f_05_rab01a.wav")
    with pytest.raises(DataError, match="gender 'm' has 2"):
        DEMoS(tmp_path).items()


def test_registry_builds_demos(demos_root: Path) -> None:
    corpus = build_corpus("demos", demos_root)
    assert isinstance(corpus, DEMoS) and corpus.classes == CLASSES
