"""Bad input, category 5: inputs too large for memory.

A clip is attacked whole (the generator ranks the positions of the whole clip, and the SER models pool
over all of it), so ``staa generator apply`` refuses a file longer than ``--max-seconds`` (default 60 s)
from its header, before decoding anything: a 3-hour file used to make Emo18 ask for 44 GB and die with a
traceback. Corpora are unified to at most 60 s. An experiment file cannot exhaust memory while it is
read: its size, the values its YAML aliases expand to, and its depth are bounded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

GIB = 1 << 30


def _long_file(path, seconds: float, rate: int = 8_000) -> None:
    """A ``seconds``-long 8-bit tone, written a minute at a time (3 hours: 86 MB, never all in memory)."""
    minute = (0.3 * np.sin(2 * np.pi * 220 * np.arange(60 * rate) / rate)).astype(np.float32).reshape(-1, 1)
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=1, subtype="PCM_U8") as f:
        for start in range(0, int(seconds), 60):
            f.write(minute[: int(min(60, seconds - start) * rate)])


@pytest.fixture(scope="module")
def three_hours(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("long") / "clips"
    folder.mkdir()
    _long_file(folder / "three_hours.wav", 3 * 3600)
    assert sf.info(str(folder / "three_hours.wav")).duration == pytest.approx(3 * 3600)
    return folder


def _apply(checkpoints, clips, out, *extra):
    return ["generator", "apply", checkpoints / "gen", "--model", checkpoints / "emo18", "--input-dir", clips,
            "--out", out, "--quiet", *extra]  # fmt: skip


def test_three_hour_file_is_refused_with_the_limit_named(staa, checkpoints, three_hours, tmp_path):
    out = tmp_path / "adv"
    line = staa.refuses(_apply(checkpoints, three_hours, out), "10800.0 s long, beyond the 60 s taken in one piece",
                        "--max-seconds", keep=(out,))  # fmt: skip
    assert str(three_hours / "three_hours.wav") in line


def _peak_rss(args: list[str], logs: Path) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``python -m staa.cli ARGS`` in a fresh process; its result and its own peak resident memory (bytes)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with (logs / "out.txt").open("w") as out, (logs / "err.txt").open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "staa.cli", *map(str, args)], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not the maximum over all children
    proc.returncode = os.waitstatus_to_exitcode(status)
    done = subprocess.CompletedProcess(
        proc.args, proc.returncode, (logs / "out.txt").read_text(), (logs / "err.txt").read_text()
    )
    return done, usage.ru_maxrss * 1024  # kilobytes on Linux


@pytest.mark.slow  # a real staa process (torch start-up) on a generated 3-hour file
def test_three_hour_file_stays_far_below_2_gib(checkpoints, three_hours, tmp_path):
    done, peak = _peak_rss(_apply(checkpoints, three_hours, tmp_path / "adv"), tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "10800.0 s long" in done.stderr, done.stderr
    print(f"3-hour file through `staa generator apply`: refused, peak RSS {peak / 2**20:.0f} MiB")
    assert peak < 2 * GIB
    assert not (tmp_path / "adv").exists()


@pytest.mark.slow  # the longest clip accepted by default, attacked whole in a real process
def test_the_longest_accepted_clip_is_attacked_within_2_gib(checkpoints, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    _long_file(clips / "one_minute.wav", 60, rate=16_000)
    done, peak = _peak_rss(_apply(checkpoints, clips, tmp_path / "adv"), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"60 s file through `staa generator apply`: peak RSS {peak / 2**20:.0f} MiB")
    assert peak < 2 * GIB
    assert sf.info(str(tmp_path / "adv" / "wav" / "one_minute.wav")).frames == 60 * 16_000


def test_max_seconds_is_the_users_to_lower_or_raise(staa, checkpoints, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    _long_file(clips / "two.wav", 2)
    out = tmp_path / "adv"
    staa.refuses(_apply(checkpoints, clips, out, "--max-seconds", "1.5"), "2.0 s long, beyond the 1.5 s", keep=(out,))
    staa.succeeds(*_apply(checkpoints, clips, out, "--max-seconds", "2.5"))


def test_a_corpus_of_long_files_is_not_unified_to_their_length(staa, tmp_path):
    """A manifest's default length is its 90th-percentile duration: 70 s files would make 70 s clips."""
    rows = ["path,label,speaker"]
    for i, label in enumerate(["anger", "sadness"] * 3):
        _long_file(tmp_path / f"c{i}.wav", 70)
        rows.append(f"c{i}.wav,{label},s{i % 3}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    cache = tmp_path / "cache"
    staa.refuses(["data", "prepare", tmp_path / "m.csv", "--cache", cache], "unified to 70 s, beyond the 60 s",
                 "--seconds", keep=(cache,))  # fmt: skip


BILLION_LAUGHS = (
    "\n".join(
        ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    )
    + "\n"
)


@pytest.mark.parametrize(
    "text, fragment",
    [
        (BILLION_LAUGHS, "expands to more than 100000 values (YAML aliases?)"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 64 levels"),
        ("name: big\npad: '" + "x" * (1 << 20) + "'\n", "larger than the 1048576 an experiment file may have"),
    ],
    ids=["billion laughs", "deep nesting", "huge file"],
)
def test_an_experiment_file_cannot_exhaust_memory_while_read(text, fragment, staa, tmp_path):
    path, out = tmp_path / "evil.yaml", tmp_path / "run"
    path.write_text(text)
    line = staa.refuses(["run", path, "--out", out], fragment, keep=(out,))
    assert str(path) in line


def test_aliases_that_expand_moderately_are_still_fine(tiny_experiment):
    """Anchors are a legitimate way to share settings; only an explosion is refused."""
    from staa.experiment import load_config

    text = tiny_experiment.read_text().replace("attackers: {pgd: {attack: pgd, settings: {k_percent: 10, steps: 1}}}",
                                               "attackers:\n  pgd: &p {attack: pgd, settings: {k_percent: 10, steps: 1}}\n"
                                               "  pgd2: *p")  # fmt: skip
    tiny_experiment.write_text(text)
    config = load_config(tiny_experiment)
    assert config["attackers"]["pgd2"] == config["attackers"]["pgd"]
