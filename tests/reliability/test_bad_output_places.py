"""Bad input, category 6: output places that cannot be written.

An existing file given as ``--out``, a path below a file, or a read-only folder is refused in one line
before any work (nothing is created, no corpus is prepared); before, each gave a traceback, some after
the work was done. A read-only folder does not stop root, so as root the command runs in a forked child
that has dropped to the ``nobody`` user (the same code, in-process, without a new interpreter).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

COMMANDS = {
    "ser train": ["ser", "train", "emo18", "--out", "{out}", "--epochs", "1"],
    "attack run": ["attack", "run", "pgd", "--model", "{ckpt}", "--out", "{out}"],
    "attack universal": ["attack", "universal", "--model", "{ckpt}", "--out", "{out}"],
    "attack targets": ["attack", "targets", "pgd", "--model", "{ckpt}", "--out", "{out}"],
    "generator train": ["generator", "train", "--threat", "{ckpt}", "--out", "{out}"],
    "generator apply": ["generator", "apply", "{gen}", "--model", "{ckpt}", "--out", "{out}"],
    "defense wrap": ["defense", "wrap", "{ckpt}", "--defense", "median:kernel=3", "--out", "{out}"],
    "defense evaluate": [
        "defense",
        "evaluate",
        "--model",
        "{ckpt}",
        "--defense",
        "median",
        "--attack",
        "pgd",
        "--out",
        "{out}",
    ],
    "defense adv-train": ["defense", "adv-train", "{ckpt}", "--out", "{out}"],
    "run": ["run", "demo", "--out", "{out}"],
}
CORPUS_FREE = ("defense wrap", "run")


def _args(case: str, out: Path, checkpoints: Path, micro: list[str]) -> list[str]:
    args = [a.format(out=out, ckpt=checkpoints / "emo18", gen=checkpoints / "gen") for a in COMMANDS[case]]
    return args if case in CORPUS_FREE else [*args, *micro]


@pytest.mark.parametrize("case", sorted(COMMANDS))
def test_an_existing_file_as_out(case, staa, checkpoints, micro, tmp_path):
    taken = tmp_path / "results.txt"
    taken.write_text("someone's notes")
    staa.refuses(_args(case, taken, checkpoints, micro), "exists and is not a folder", str(taken), keep=(taken,))


@pytest.mark.parametrize("case", sorted(COMMANDS))
def test_an_out_below_a_file(case, staa, checkpoints, micro, tmp_path):
    taken = tmp_path / "results.txt"
    taken.write_text("someone's notes")
    out = taken / "run" / "out"
    staa.refuses(
        _args(case, out, checkpoints, micro), f"cannot make a folder below {taken}, which is a file", keep=(taken,)
    )


@pytest.mark.parametrize("case", sorted(COMMANDS))
def test_a_read_only_folder(case, staa, checkpoints, micro, read_only):
    out = read_only / "out"
    ran = staa.unprivileged(*_args(case, out, checkpoints, micro))
    line = _refused_line(ran)
    assert "cannot write in" in line and str(read_only) in line and "permission denied" in line, line
    assert list(read_only.iterdir()) == []


def test_a_cache_that_cannot_be_written(staa, micro_manifest, tmp_path):
    taken = tmp_path / "cache.txt"
    taken.write_text("x")
    staa.refuses(["data", "prepare", micro_manifest, "--cache", taken / "c"], "which is a file", keep=(taken,))


def test_evaluating_a_checkpoint_in_a_read_only_place_is_refused_before_work(staa, checkpoints, micro, read_only):
    read_only.chmod(0o755)
    shutil.copytree(checkpoints / "emo18", read_only / "ckpt")
    (read_only / "ckpt").chmod(0o555)
    read_only.chmod(0o555)
    try:
        ran = staa.unprivileged("ser", "evaluate", read_only / "ckpt", *micro)
        assert "cannot write in" in _refused_line(ran)
        assert not (read_only / "ckpt" / "eval.json").exists()
    finally:
        (read_only / "ckpt").chmod(0o755)


def _refused_line(ran) -> str:
    assert ran.code == 2 and len(ran.lines) == 1 and ran.lines[0].startswith("error: "), ran.err[-2000:]
    return ran.lines[0]
