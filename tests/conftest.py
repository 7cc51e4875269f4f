"""Shared fixtures: tiny prepared synthetic corpora, each built once per test session."""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from staa.audio import write_audio
from staa.data.cache import PreparedCorpus, prepare
from staa.data.synthetic import SyntheticCorpus
from staa.runtime import allocator

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RESEARCH = Path(__file__).resolve().parents[1] / "research"
EMODB_SUBSET = SHARED / "data" / "emodb-subset"

# One thread per test process: on a shared 2-core machine, two threads per process slow training steps several-fold.
torch.set_num_threads(1)
# As every staa command does: freed activation memory stays in the process instead of being faulted in again.
allocator.keep_freed_memory()


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> PreparedCorpus:
    """5 speakers × 7 emotions × 2 clips of 0.5 s: fast enough for every unit test."""
    corpus = SyntheticCorpus(n_speakers=5, per_emotion=2, seconds=0.5, seed=1)
    return prepare(corpus, tmp_path_factory.mktemp("cache"), show_progress=False)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> PreparedCorpus:
    """The demo-sized synthetic corpus (10 speakers × 7 emotions × 6 clips of 1 s) for learning tests."""
    corpus = SyntheticCorpus(n_speakers=10, per_emotion=6, seconds=1.0, seed=0)
    return prepare(corpus, tmp_path_factory.mktemp("cache"), show_progress=False)


@pytest.fixture(scope="session")
def micro_corpus(tmp_path_factory: pytest.TempPathFactory) -> PreparedCorpus:
    """3 speakers × 7 emotions × 1 clip of 0.25 s: one speaker, 7 clips, per split (STAA-Net and CLI tests)."""
    corpus = SyntheticCorpus(n_speakers=3, per_emotion=1, seconds=0.25, seed=1)
    return prepare(corpus, tmp_path_factory.mktemp("micro"), show_progress=False)


@pytest.fixture(scope="session")
def write_manifest(micro_corpus: PreparedCorpus) -> Callable[..., Path]:
    """``write_manifest(root, name="manifest.csv", rename={})``: the micro corpus as a user has a corpus on disk,
    ``root/wavs/<split>_<i>.wav`` and a CSV of relative paths, labels renamed by ``rename``; returns the CSV."""

    def write(root: Path, name: str = "manifest.csv", rename: dict[str, str] | None = None) -> Path:
        rows = []
        for split in ("train", "val", "test"):
            s = micro_corpus.split(split)
            for i, item in enumerate(s.items):
                wav = f"wavs/{split}_{i:02d}.wav"
                write_audio(root / wav, np.asarray(s.waves[i]))
                label = (rename or {}).get(item["label"], item["label"])
                rows.append({"path": wav, "label": label, "speaker": item["speaker"], "split": split})
        with open(root / name, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["path", "label", "speaker", "split"])
            writer.writeheader()
            writer.writerows(rows)
        return root / name

    return write


def _load_research(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, RESEARCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def research_script() -> Callable[[str], ModuleType]:
    """Loads ``research/<name>.py`` as a module: the probes are scripts, not part of the package."""
    return _load_research
