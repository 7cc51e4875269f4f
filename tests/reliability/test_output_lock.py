"""One run per output folder: a run holds its folder's lock (:mod:`staa.io.lock`) while it writes there; a
second run into the same folder is refused in one line naming the holder (pid, host, start time), and the
lock of a process that died is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from staa.errors import ConfigError
from staa.io.lock import LOCK_FILE, folder_lock
from staa.io.outputs import claimed

HOLD = "import sys, time; from staa.io.lock import folder_lock\nwith folder_lock(sys.argv[1]):\n print('held', flush=True); time.sleep(120)"


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of ``tmp_path / 'out'``; killed at the end."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield out, proc
    proc.kill()
    proc.wait()


def test_a_second_run_is_refused_naming_the_holder(holder):
    out, proc = holder
    with pytest.raises(ConfigError, match=f"another staa run is writing here \\(pid {proc.pid} on .*, since .* UTC\\)"):
        with folder_lock(out):
            pass
    with pytest.raises(ConfigError, match=f"pid {proc.pid}"), claimed(out, {"k": 1}, outputs=["records.json"]):
        pass
    assert not (out / "spec.json").exists(), "the refused run claimed nothing"


def test_the_lock_of_a_dead_process_is_taken_over(holder):
    out, proc = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / LOCK_FILE).exists(), "a killed holder leaves its file behind"
    with folder_lock(out):
        assert str(os.getpid()) in (out / LOCK_FILE).read_text()
    assert not (out / LOCK_FILE).exists(), "released: the file goes with the lock"


def test_one_process_may_nest_locks_on_a_folder(tmp_path):
    with folder_lock(tmp_path), folder_lock(tmp_path):
        assert (tmp_path / LOCK_FILE).exists()
    assert not (tmp_path / LOCK_FILE).exists()


def test_two_identical_runs_into_one_folder(holder, staa, tiny_experiment):
    """The issue's case: both runs did all the work and the later died on a missing parts/ folder."""
    out, proc = holder
    staa.refuses(
        ["run", tiny_experiment, "--out", out, "--quiet"], "another staa run is writing here", f"pid {proc.pid}"
    )


def test_an_attack_into_a_held_folder_is_refused(holder, staa, checkpoints, micro):
    out, proc = holder
    staa.refuses(["attack", "run", "pgd", "--model", checkpoints / "emo18", "--out", out, "--steps", "1", *micro],
                 "another staa run is writing here", f"pid {proc.pid}")  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE], "nothing written beside the holder"
