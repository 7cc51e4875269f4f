"""CPU threads: applied for a block and restored, refused when nonsensical, set by ``staa --threads``."""

from __future__ import annotations

import os

import pytest
import torch
from typer.testing import CliRunner

from staa.cli import app
from staa.errors import ConfigError
from staa.runtime.threads import DEFAULT_THREADS, check_threads, torch_threads


@pytest.fixture
def threads_kept(monkeypatch: pytest.MonkeyPatch):
    """Whatever a test does to torch's threads and OMP_NUM_THREADS is undone after it."""
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_threads_apply_inside_the_block_and_are_restored(threads_kept) -> None:
    torch.set_num_threads(1)
    with torch_threads(2) as used:
        assert used == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
    with torch_threads(None) as used:  # None leaves them as they are
        assert used == 1
    with pytest.raises(RuntimeError), torch_threads(2):
        raise RuntimeError("a failed run restores them too")
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, 1025, 1.5, True, "2"])
def test_bad_thread_counts_are_refused(bad) -> None:
    with pytest.raises(ConfigError, match="threads: must be an integer"):
        check_threads(bad)


def test_the_default_is_one_thread() -> None:
    assert DEFAULT_THREADS == 1 and check_threads(None) is None and check_threads(4) == 4


def test_staa_threads_sets_the_process_threads(threads_kept) -> None:
    result = CliRunner().invoke(app, ["--threads", "2", "ser", "--help"])
    assert result.exit_code == 0, result.output
    assert os.environ["OMP_NUM_THREADS"] == "2" and torch.get_num_threads() == 2
    os.environ.pop("OMP_NUM_THREADS")
    CliRunner().invoke(app, ["ser", "--help"])  # neither --threads nor OMP_NUM_THREADS: the default
    assert torch.get_num_threads() == DEFAULT_THREADS


def test_staa_threads_out_of_range_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["--threads", "0", "ser", "--help"])
    assert result.exit_code == 2
