"""Helpers for the corpus tests: short WAV files written into fixture trees that mimic real layouts."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

WriteWav = Callable[..., Path]


@pytest.fixture(scope="session")
def write_wav() -> WriteWav:
    """``write_wav(path, seconds=0.05, sample_rate=16000)``: a quiet noise clip, seeded by its file name."""

    def write(path: Path, seconds: float = 0.05, sample_rate: int = 16_000) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(zlib.crc32(path.name.encode()))
        x = 0.1 * rng.standard_normal(int(round(seconds * sample_rate)))
        sf.write(str(path), x.astype(np.float32), sample_rate, subtype="PCM_16")
        return path

    return write


@pytest.fixture(scope="session")
def emodb_subset() -> Path:
    """The shared real-speech EmoDB subset; skips the test when the shared data folder is absent.

    Same location as ``EMODB_SUBSET`` in tests/conftest.py, derived here because a second ``conftest``
    module cannot import the first by name (both are the top-level module ``conftest``).
    """
    path = Path(__file__).resolve().parents[3] / "shared" / "data" / "emodb-subset"
    if not path.is_dir():
        pytest.skip(f"real EmoDB subset not found at {path} (shared data folder absent)")
    return path


@pytest.fixture(scope="session")
def ravdess_subset() -> Path:
    """The shared real-speech RAVDESS subset (actors 01-04, 48 kHz); skips the test when it is absent."""
    path = Path(__file__).resolve().parents[3] / "shared" / "data" / "ravdess-subset"
    if not path.is_dir():
        pytest.skip(f"real RAVDESS subset not found at {path} (shared data folder absent)")
    return path
