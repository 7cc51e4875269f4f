"""Fixtures for the reliability suite: the tiny synthetic corpus as real WAV files plus a CSV manifest."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

from staa.data.cache import PreparedCorpus


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread per test: on a shared 2-core machine, two OpenMP threads that wait on each
    other make the small models here many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def wav_manifest(tiny_corpus: PreparedCorpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny_corpus written out as 16-bit WAVs (70 clips, 0.5 s) with a manifest that keeps its splits."""
    root = tmp_path_factory.mktemp("wavs")
    rows = []
    for split in ("train", "val", "test"):
        s = tiny_corpus.split(split)
        for i, (wave, item) in enumerate(zip(s.waves, s.items)):
            name = f"{split}_{i:03d}.wav"
            sf.write(str(root / name), wave, tiny_corpus.sample_rate, subtype="PCM_16")
            rows.append({"path": name, "label": item["label"], "speaker": item["speaker"], "split": split})
    return write_manifest(root / "manifest.csv", rows)


CLI = [sys.executable, "-m", "staa.cli"]
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


class StaaCLI:
    """Runs ``python -m staa.cli ARGS`` with one thread, as a user would run ``staa ARGS``."""

    command = CLI
    env = ONE_THREAD

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=ONE_THREAD)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([*CLI, *args], env=ONE_THREAD, stderr=subprocess.PIPE)


@pytest.fixture(scope="session")
def staa_cli() -> StaaCLI:
    return StaaCLI()
