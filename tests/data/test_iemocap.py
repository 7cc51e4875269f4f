"""IEMOCAP: labels from real-format EmoEvaluation files, exc merged, others dropped, session split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from staa.data.iemocap import CLASSES, IEMOCAP
from staa.data.registry import build_corpus
from staa.errors import DataError

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
# (utterance, label) per session: a scripted and an improvised dialogue, the labels to keep and to drop.
UTTERANCES = [
    ("impro01", "F000", "neu"),
    ("impro01", "M001", "exc"),
    ("impro01", "F002", "fru"),
    ("impro01", "M003", "xxx"),
    ("script01_1", "F000", "hap"),
    ("script01_1", "M001", "ang"),
    ("script01_1", "F002", "sad"),
    ("script01_1", "M003", "sur"),
]


def _evaluation_block(utterance: str, label: str, start: float) -> str:
    """One utterance as the release writes it: the summary line, then per-annotator lines (ignored)."""
    return (
        f"[{start:.4f} - {start + 1.5:.4f}]\t{utterance}\t{label}\t[2.5000, 3.0000, 3.5000]\n"
        "C-E1:\tNeutral state;\t()\nC-E2:\tFrustration;\t(a bit)\nA-E3:\tval 3; act 2; dom  3;\t()\n\n"
    )


@pytest.fixture(scope="module")
def iemocap_parent(tmp_path_factory: pytest.TempPathFactory, write_wav) -> Path:
    """``<parent>/IEMOCAP_full_release/Session1..5`` with dialogue prefix F (session 5: M)."""
    parent = tmp_path_factory.mktemp("iemocap")
    release = parent / "IEMOCAP_full_release"
    for n in range(1, 6):
        session = release / f"Session{n}"
        prefix = f"Ses0{n}{'M' if n == 5 else 'F'}"
        blocks: dict[str, list[str]] = {}
        for k, (dialogue, index, label) in enumerate(UTTERANCES):
            utterance = f"{prefix}_{dialogue}_{index}"
            blocks.setdefault(dialogue, []).append(_evaluation_block(utterance, label, 2.0 * k))
            write_wav(session / "sentences" / "wav" / f"{prefix}_{dialogue}" / f"{utterance}.wav", seconds=0.02)
        evaluation = session / "dialog" / "EmoEvaluation"
        for dialogue, lines in blocks.items():
            (evaluation / f"{prefix}_{dialogue}.txt").parent.mkdir(parents=True, exist_ok=True)
            (evaluation / f"{prefix}_{dialogue}.txt").write_text(HEADER + "".join(lines))
        (evaluation / "Categorical").mkdir()  # sub-folders of per-annotator files are not read
        (evaluation / "Categorical" / f"{prefix}_impro01_e1_cat.txt").write_text("Ses01F_impro01_F000 :Anger; ()\n")
        (evaluation / f"._{prefix}_impro01.txt").write_bytes(b"\0\5\x80")  # macOS metadata: ignored
    return parent


def test_labels_merge_and_exclusions(iemocap_parent: Path) -> None:
    corpus = IEMOCAP(iemocap_parent / "IEMOCAP_full_release")
    items = corpus.items()
    assert len(items) == 5 * 5  # per session: neu, exc, hap, ang, sad kept; fru, xxx, sur dropped
    assert Counter(it.label for it in items) == {"happiness": 10, "neutral": 5, "anger": 5, "sadness": 5}
    names = {Path(it.path).stem: it for it in items}
    assert names["Ses01F_impro01_M001"].label == "happiness"  # excited merged
    assert names["Ses02F_script01_1_F002"].label == "sadness"
    assert not any(stem.endswith(("F002", "M003")) and "impro01" in stem for stem in names)
    assert Path(names["Ses02F_script01_1_F002"].path).parent.name == "Ses02F_script01_1"
    assert corpus.classes == ("happiness", "sadness", "anger", "neutral") == CLASSES
    assert corpus.seconds == 8.7


def test_speakers_and_session_split(iemocap_parent: Path) -> None:
    corpus = IEMOCAP(iemocap_parent)  # the release's parent folder is accepted too
    names = {Path(it.path).stem: it for it in corpus.items()}
    assert names["Ses01F_impro01_M001"].speaker == "Ses01M"  # the utterance's letter, not the dialogue's
    assert names["Ses05M_impro01_F000"].speaker == "Ses05F"
    assert corpus.speaker_splits() == {
        "train": ["Ses01F", "Ses01M", "Ses02F", "Ses02M", "Ses05F", "Ses05M"],
        "val": ["Ses04F", "Ses04M"],
        "test": ["Ses03F", "Ses03M"],
    }
    assert {it.split for it in corpus.items() if Path(it.path).parents[3].name == "Session3"} == {"test"}


def test_missing_audio_is_reported(tmp_path: Path) -> None:
    evaluation = tmp_path / "Session1" / "dialog" / "EmoEvaluation"
    evaluation.mkdir(parents=True)
    (evaluation / "Ses01F_impro02.txt").write_text(HEADER + _evaluation_block("Ses01F_impro02_F000", "ang", 0.0))
    with pytest.raises(DataError, match="audio of utterance Ses01F_impro02_F000") as err:
        IEMOCAP(tmp_path).items()
    assert "Ses01F_impro02/Ses01F_impro02_F000.wav" in str(err.value)


def test_wrong_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no Session1..Session5 folders"):
        build_corpus("iemocap", tmp_path).items()
