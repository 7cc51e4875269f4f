"""What the research probes share: the options of the scripts that train generators on a finished run, and
the clip, timing and argument helpers of the performance suite (``benchmarks/common.py``), re-exported so
that a probe imports them from one place.

The probes run as scripts (``python research/<probe>.py``), so ``research/`` is on ``sys.path``; this
module puts ``benchmarks/`` there too. Nothing in ``src/staa`` imports either folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from common import SAMPLES, add_shared_arguments, interleaved, load_clips, markdown  # noqa: E402

__all__ = ["SAMPLES", "add_generator_study_arguments", "add_shared_arguments", "interleaved", "load_clips", "markdown"]


def add_generator_study_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the scripts that train generators on a finished run: its corpus, threat, victim, an output folder."""
    parser.add_argument("--cache", required=True, help="prepared corpus folder (the one holding manifest.json)")
    parser.add_argument("--threat", required=True, help="threat SER model folder")
    parser.add_argument("--victim", required=True, help="victim SER model folder (transfer)")
    parser.add_argument("--out", required=True, help="folder for the trained generators")
