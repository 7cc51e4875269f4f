"""Fixtures of the CLI tests: a corpus as a user has it on disk (WAV files and a CSV manifest)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from staa.audio import write_audio


@pytest.fixture(scope="module")
def manifest_folder(micro_corpus) -> Callable[[Path], Path]:
    """``manifest_folder(root)`` writes the micro corpus under ``root`` as ``wavs/*.wav`` and ``manifest.csv``."""

    def write(root: Path) -> Path:
        rows = []
        for split in ("train", "val", "test"):
            s = micro_corpus.split(split)
            for i, item in enumerate(s.items):
                name = f"{split}_{i:02d}.wav"
                write_audio(root / "wavs" / name, np.asarray(s.waves[i]))
                rows.append(
                    {"path": f"wavs/{name}", "label": item["label"], "speaker": item["speaker"], "split": split}
                )
        with open(root / "manifest.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["path", "label", "speaker", "split"])
            writer.writeheader()
            writer.writerows(rows)
        return root / "manifest.csv"

    return write
