"""Bad input, category 7: messages that say what is wrong, and where.

Before: an unreadable checkpoint was "No such file or directory", an unreadable audio file "System error",
a missing ``--input-dir`` "no .wav/.flac/.ogg files found", a clip too short for the model did not name
the file, and command-line usage errors were a framed panel of several lines. Each is now one line naming
the file or option and the problem.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf


def _clip(path, samples: int = 4000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), (0.3 * np.sin(np.arange(samples) / 5)).astype(np.float32), 16_000)


def test_checkpoint_given_as_its_weights_file(staa, checkpoints, micro):
    weights = checkpoints / "emo18" / "model.safetensors"
    staa.refuses(["ser", "evaluate", weights, *micro], str(weights), "not a checkpoint folder (a file; give the folder")


def test_checkpoint_folder_that_does_not_exist(staa, checkpoints, micro, tmp_path):
    staa.refuses(["ser", "evaluate", tmp_path / "nope", *micro], str(tmp_path / "nope"), "checkpoint folder not found")


@pytest.mark.parametrize(
    "name, problem",
    [
        ("config.json", "cannot read config.json (Permission denied)"),
        ("model.safetensors", "cannot read the weights file (permission denied)"),
    ],
)
def test_checkpoint_files_that_cannot_be_read(name, problem, staa, checkpoints, read_only):
    """Not "No such file or directory": the file is there, this user may not read it."""
    read_only.chmod(0o777)  # writable by anyone: only the checkpoint's file is out of reach
    ckpt = read_only / "ckpt"
    shutil.copytree(checkpoints / "emo18", ckpt)
    (ckpt / name).chmod(0o000)
    ran = staa.unprivileged(
        "attack", "run", "pgd", "--model", ckpt, "--out", read_only / "out", "--cache", read_only / "cache"
    )
    assert ran.code == 2 and len(ran.lines) == 1, ran.err[-2000:]
    assert f"{ckpt / name}: {problem}" in ran.lines[0]


def test_audio_file_that_cannot_be_read(staa, checkpoints, read_only):
    read_only.chmod(0o777)  # writable by anyone: only one clip is out of reach
    clips = read_only / "clips"
    _clip(clips / "a.wav")
    _clip(clips / "secret.wav")
    (clips / "secret.wav").chmod(0o000)
    for name in ("gen", "emo18"):  # where the unprivileged user can read them
        shutil.copytree(checkpoints / name, read_only / name)
    ran = staa.unprivileged("generator", "apply", read_only / "gen", "--model", read_only / "emo18",
                            "--input-dir", clips, "--out", read_only / "adv", "--quiet")  # fmt: skip
    assert ran.code == 2 and len(ran.lines) == 1, ran.err[-2000:]
    assert f"{clips / 'secret.wav'}: cannot read the file (permission denied)" in ran.lines[0]


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: None, "input folder not found"),
        (lambda p: p.write_text("x"), "not a folder (--input-dir takes a folder of audio files)"),
        (
            lambda p: (p.mkdir(), (p / "notes.txt").write_text("x")),
            "no .wav, .flac, .ogg files in this folder or below it",
        ),
    ],
    ids=["missing", "a file", "no audio"],
)
def test_input_dir_problems_are_told_apart(make, fragment, staa, checkpoints, tmp_path):
    clips, out = tmp_path / "clips", tmp_path / "adv"
    make(clips)
    args = [
        "generator",
        "apply",
        checkpoints / "gen",
        "--model",
        checkpoints / "emo18",
        "--input-dir",
        clips,
        "--out",
        out,
    ]
    staa.refuses(args, f"{clips}: {fragment}", keep=(out,))


def test_clip_too_short_for_the_model_names_the_file(staa, checkpoints, tmp_path):
    clips, out = tmp_path / "clips", tmp_path / "adv"
    _clip(clips / "ok.wav")
    _clip(clips / "blip.wav", samples=100)
    args = [
        "generator",
        "apply",
        checkpoints / "gen",
        "--model",
        checkpoints / "zhao19",
        "--input-dir",
        clips,
        "--out",
        out,
    ]
    staa.refuses(
        args, f"{clips / 'blip.wav'}: 100 samples at 16 kHz, shorter than the 256 the model needs", keep=(out,)
    )


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["ser", "train", "emo18", "--out", "x", "--bogus"], "No such option: --bogus"),
        (["ser", "train", "emo18"], "staa ser train: Missing option '--out'"),
        (["ser", "fly"], "staa ser: No such command 'fly'"),
        (["attack", "run", "pgd", "--model", "m", "--out", "x", "--limit", "many"], "Invalid value for '--limit'"),
    ],
    ids=["unknown option", "missing option", "unknown command", "wrong type"],
)
def test_usage_errors_are_one_line_too(args, fragment, staa, tmp_path):
    staa.refuses(args, fragment)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: p.mkdir(), "not a file (give a YAML experiment file)"),
        (lambda p: p.write_text(""), "an experiment file must be a YAML mapping"),
        (lambda p: p.write_bytes(b"name: \xff\xfe\n"), "not UTF-8 text (byte 0xff at offset 6)"),
        (lambda p: p.write_text("name: [unclosed\n"), "not valid YAML"),
    ],
    ids=["a folder", "empty", "not UTF-8", "broken YAML"],
)
def test_experiment_files_that_cannot_be_used(make, fragment, staa, tmp_path):
    path, out = tmp_path / "exp.yaml", tmp_path / "run"
    make(path)
    staa.refuses(["run", path, "--out", out], f"{path}: {fragment}", keep=(out,))


def test_unknown_attack_spec_option_names_the_attack(staa, checkpoints, micro, tmp_path):
    out = tmp_path / "robust"
    staa.refuses(["defense", "evaluate", "--model", checkpoints / "emo18", "--defense", "median", "--attack",
                  "pgd:radius=3", "--out", out, *micro], "pgd: no option 'radius'", keep=(out,))  # fmt: skip
