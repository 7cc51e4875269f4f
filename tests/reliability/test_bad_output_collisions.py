"""Bad input, category 3: outputs that would overwrite each other, and a bad file among good ones.

``staa generator apply --input-dir`` names each output after its input's path (``wav/sub/good.wav``; another
format keeps its suffix: ``wav/good.flac.wav``), so distinct inputs give distinct outputs; names that would
still meet (differing only in case, or ``x.flac`` next to ``x.flac.wav``) are refused before any work, as
is a folder with any unusable file: the whole folder is checked first, so a bad file after a good one
leaves no WAV without the result.json that describes it. Non-ASCII names are kept as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def _tone(path: Path, seconds: float = 0.3, rate: int = 16_000, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), rate, format=fmt)
    return path


def _apply(staa, checkpoints, clips: Path, out: Path):
    return ["generator", "apply", checkpoints / "gen", "--model", checkpoints / "emo18", "--input-dir", clips,
            "--out", out, "--quiet"]  # fmt: skip


def test_same_stems_in_other_formats_and_folders_give_distinct_outputs(staa, checkpoints, tmp_path):
    """The issue's folder: it reported 8 clips and wrote 5 WAVs, with repeated names in result.json."""
    clips, out = tmp_path / "clips", tmp_path / "adv"
    for name, fmt in [("good.wav", "WAV"), ("good.flac", "FLAC"), ("good.ogg", "OGG"), ("sub/good.wav", "WAV"),
                      ("sub_good.wav", "WAV")]:  # fmt: skip
        _tone(clips / name, fmt=fmt)
    staa.succeeds(*_apply(staa, checkpoints, clips, out))
    record = json.loads((out / "result.json").read_text())
    names = [e["name"] for e in record["examples"]]
    assert names == ["good.flac", "good.ogg", "good", "sub/good", "sub_good"]  # in the order of the file names
    assert record["summary"]["n"] == 5
    written = sorted(p.relative_to(out / "wav").as_posix() for p in (out / "wav").rglob("*.wav"))
    assert written == sorted(f"{n}.wav" for n in names)
    rate, channels, subtype = (lambda i: (i.samplerate, i.channels, i.subtype))(
        sf.info(str(out / "wav" / "good.flac.wav"))
    )
    assert (rate, channels, subtype) == (16_000, 1, "FLOAT")  # as the help says: 16 kHz mono float32


@pytest.mark.parametrize(
    "names, fragment",
    [
        (["Good.wav", "good.wav"], "would be written to the same output as"),
        (["x.flac", "x.flac.wav"], "would be written to the same output as"),
    ],
    ids=["case only", "suffix kept"],
)
def test_names_that_would_still_meet_are_refused(names, fragment, staa, checkpoints, tmp_path):
    clips, out = tmp_path / "clips", tmp_path / "adv"
    for name in names:
        _tone(clips / name, fmt="FLAC" if name.endswith(".flac") else "WAV")
    line = staa.refuses(_apply(staa, checkpoints, clips, out), fragment, keep=(out, clips))
    assert all(str(clips / n) in line for n in names)  # both files are named


def test_non_ascii_names_are_kept(staa, checkpoints, tmp_path):
    """Documented: names are kept as they are (UTF-8 on disk, escaped in result.json, which is ASCII JSON)."""
    clips, out = tmp_path / "clips", tmp_path / "adv"
    names = ["colère.wav", "喜び/声.wav", "Ärger ü.flac"]
    for name in names:
        _tone(clips / name, fmt="FLAC" if name.endswith(".flac") else "WAV")
    staa.succeeds(*_apply(staa, checkpoints, clips, out))
    record = json.loads((out / "result.json").read_text())
    assert sorted(e["name"] for e in record["examples"]) == sorted(["colère", "喜び/声", "Ärger ü.flac"])
    assert all((out / "wav" / f"{e['name']}.wav").exists() for e in record["examples"])


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk"), "not a readable audio file"),
        (lambda p: _tone(p, seconds=0.01), "samples at 16 kHz, shorter than the 731 the model needs"),
        (lambda p: sf.write(str(p), np.zeros(4000, np.float32), 16_000), "silent audio"),
        (lambda p: p.mkdir(), "is a folder, not an audio file"),
    ],
    ids=["corrupt", "too short", "silent", "a folder"],
)
def test_a_bad_file_after_good_ones_stops_the_run_before_any_output(bad, fragment, staa, checkpoints, tmp_path):
    """Before, the good WAVs were written and the run then died, leaving them without a result.json."""
    clips, out = tmp_path / "clips", tmp_path / "adv"
    _tone(clips / "a_good.wav")
    _tone(clips / "b_good.wav")
    bad(clips / "z_bad.wav")
    line = staa.refuses(_apply(staa, checkpoints, clips, out), fragment, keep=(out,))
    assert str(clips / "z_bad.wav") in line
    assert not out.exists()


@pytest.mark.parametrize("inside", [(), ("results",)], ids=["the input folder", "below it"])
def test_an_output_folder_inside_the_inputs_is_refused(inside, staa, checkpoints, tmp_path):
    """Its WAVs would be taken for inputs by the next run (and nested under themselves)."""
    clips = tmp_path / "clips"
    _tone(clips / "a.wav")
    staa.refuses(_apply(staa, checkpoints, clips, clips.joinpath(*inside)), "lies inside it", keep=(clips,))


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_devices_and_pipes_named_like_audio_are_not_opened(target, staa, checkpoints, tmp_path):
    """Reading /dev/zero or a pipe would never end: refused from the file's type."""
    import os

    clips, out = tmp_path / "clips", tmp_path / "adv"
    _tone(clips / "a.wav")
    if target == "fifo":
        os.mkfifo(clips / "b.wav")
    else:
        os.symlink(target, clips / "b.wav")
    staa.refuses(_apply(staa, checkpoints, clips, out), f"{clips / 'b.wav'}: not a regular file", keep=(out,))


def test_a_failure_while_writing_removes_the_wavs_already_written(staa, checkpoints, tmp_path, monkeypatch):
    """A failure that no check can foresee (a full disk here) leaves no WAV without its record either."""
    import staa.attacks.staa.export as export

    clips, out = tmp_path / "clips", tmp_path / "adv"
    for name in ("a.wav", "b.wav", "c.wav"):
        _tone(clips / name)
    real, calls = export.write_audio, []

    def fill_disk(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(path))
        real(path, *args, **kwargs)

    monkeypatch.setattr(export, "write_audio", fill_disk)
    staa.refuses(_apply(staa, checkpoints, clips, out), "No space left on device", str(out / "wav" / "c.wav"))
    assert not out.exists()


def test_two_victims_with_one_name_are_refused(staa, checkpoints, micro, tmp_path):
    """Victims are named by their folder: two folders called ``emo18`` used to leave one row for both."""
    import shutil

    for run in ("run1", "run2"):
        shutil.copytree(checkpoints / "emo18", tmp_path / run / "emo18")
    out = tmp_path / "robust"
    staa.refuses(["defense", "evaluate", "--model", tmp_path / "run1" / "emo18", "--model", tmp_path / "run2" / "emo18",
                  "--defense", "median:kernel=3", "--attack", "pgd:steps=1", "--out", out, *micro],
                 "--model: two folders share the name 'emo18'", keep=(out,))  # fmt: skip
