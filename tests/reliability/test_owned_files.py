"""Nothing the user owns is ever deleted: ``--overwrite`` removes only the files staa recorded writing
(``written.txt`` beside ``spec.json``), a folder holding anything else is refused rather than emptied, and
an output folder that holds, is, or lies inside the inputs is refused before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from staa.errors import ConfigError
from staa.io.outputs import WRITTEN_FILE, claim_folder, claimed, write_json

from .conftest import tree, untouched


def _tone(path: Path, seconds: float = 0.3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * 16_000)) / 16_000
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 16_000)
    return path


def _apply(checkpoints: Path, clips: Path, out: Path, *extra: object) -> list[object]:
    return ["generator", "apply", checkpoints / "gen", "--model", checkpoints / "emo18", "--input-dir", clips,
            "--out", out, "--quiet", *extra]  # fmt: skip


@pytest.mark.parametrize("extra", [(), ("--overwrite",)], ids=["plain", "overwrite"])
def test_an_output_folder_holding_the_inputs_is_refused(extra, staa, checkpoints, tmp_path):
    """The issue's case: `--input-dir proj/wav --out proj --overwrite` deleted the user's recordings."""
    proj = tmp_path / "proj"
    _tone(proj / "wav" / "take1.wav"), _tone(proj / "wav" / "take2.wav")
    line = staa.refuses(_apply(checkpoints, proj / "wav", proj, *extra), "holds the input", keep=(proj,))
    assert "--overwrite" not in line


def test_overwrite_keeps_files_the_user_put_among_the_outputs(staa, checkpoints, tmp_path):
    """The issue's other case: files the user had put in OUT/wav/ were deleted by --overwrite."""
    clips, out = tmp_path / "clips", tmp_path / "adv"
    _tone(clips / "a.wav"), _tone(clips / "b.wav")
    staa.succeeds(*_apply(checkpoints, clips, out))
    assert sorted(p.name for p in (out / "wav").iterdir()) == ["a.wav", "b.wav"]
    mine = out / "wav" / "mine.wav"
    _tone(mine)
    line = staa.refuses(_apply(checkpoints, clips, out, "--eps", "0.01", "--overwrite"), "no record of writing (wav/mine.wav)",
                        keep=(out,))  # fmt: skip
    assert "move them away" in line
    line = staa.refuses(_apply(checkpoints, clips, out, "--eps", "0.01"), "other settings", keep=(out,))
    assert "rerun with --overwrite" not in line, "never offer --overwrite where it could not start over"
    mine.unlink()
    staa.succeeds(
        *_apply(checkpoints, clips, out, "--eps", "0.01", "--overwrite")
    )  # only staa's files left: it starts over
    assert sorted(p.name for p in (out / "wav").iterdir()) == ["a.wav", "b.wav"]


def test_overwrite_deletes_exactly_what_was_recorded(tmp_path):
    with claimed(tmp_path, {"k": 1}, outputs=["records.json", "wav"]):
        write_json(tmp_path / "records.json", {})
        write_json(tmp_path / "wav" / "sub" / "a.json", {})
    recorded = (tmp_path / WRITTEN_FILE).read_text().split()
    assert sorted(recorded) == ["records.json", "wav/sub/a.json"]
    (tmp_path / "notes.txt").write_text("mine")  # beside the outputs: never theirs to delete
    claim_folder(tmp_path, {"k": 2}, outputs=["records.json", "wav"], overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "spec.json"]


def test_a_refused_overwrite_deletes_nothing(tmp_path):
    with claimed(tmp_path, {"k": 1}, outputs=["wav"]):
        write_json(tmp_path / "wav" / "a.json", {})
    (tmp_path / "wav" / "b.txt").write_text("mine")
    before = tree(tmp_path)
    with pytest.raises(ConfigError, match=r"no record of writing \(wav/b.txt\)"):
        claim_folder(tmp_path, {"k": 2}, outputs=["wav"], overwrite=True)
    assert tree(tmp_path) == before


def test_outputs_inside_the_corpus_folder_are_refused(staa, checkpoints, micro_manifest, shared_cache):
    """The manifest's recordings lie below the output folder: outputs would land among them."""
    out = micro_manifest.parent
    with untouched(out):
        ran = staa("attack", "run", "pgd", "--model", checkpoints / "emo18", "--out", out, "--corpus", micro_manifest,
                   "--cache", shared_cache, "--seconds", "0.25", "--quiet", "--limit", "1", "--steps", "1")  # fmt: skip
    assert ran.code == 2 and "holds the input" in ran.err and "Traceback" not in ran.err, ran.err[-2000:]
