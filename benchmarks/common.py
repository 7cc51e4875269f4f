"""What every benchmark script shares: the clips, the timer, the query counter and peak memory.

Timings are ratios from one run: the contenders are timed interleaved, repeat by repeat, on the same
clips, so machine load hits them alike, and the median is reported. On CUDA every timing is
synchronised. Clips are real EmoDB speech unified to 6.0 s (96 000 samples, the DEMoS length).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from staa.audio import load_audio, unify_length
from staa.defaults import DEFAULT_EPS

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "emodb-subset"
SAMPLES = 96_000  # 6.0 s at 16 kHz


def load_clips(n: int, samples: int = SAMPLES, device: str = "cpu") -> Tensor:
    """``n`` EmoDB clips unified to ``samples``; seeded noise at speech level if the sample is absent."""
    paths = sorted(CLIPS.glob("*.wav"))[:n]
    if len(paths) < n:
        print(f"note: {CLIPS} holds {len(paths)} clips, using seeded noise instead", file=sys.stderr)
        gen = torch.Generator().manual_seed(0)
        return ((torch.rand(n, samples, generator=gen) * 2 - 1) * 0.1).to(device)
    return torch.from_numpy(np.stack([unify_length(load_audio(p), samples) for p in paths])).to(device)


def sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int, device: str) -> dict[str, float]:
    """Median seconds per call of each contender, timed round-robin after one warm-up call each."""
    for fn in contenders.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class QueryCounter(nn.Module):
    """The attacked model, counting the clips it scores (forward passes with or without gradients)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.clips = 0

    def forward(self, x: Tensor) -> Tensor:
        self.clips += len(x)
        return self.model(x)


def markdown(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown pipe table (what docs/results/speed.md quotes)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def add_shared_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every script (and run_all.py, once) takes: where, how many threads, the threat model's ε."""
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=1, help="intra-op threads (2 for the 2-core goal on a quiet machine)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eps", type=float, default=DEFAULT_EPS, help="paper: 0.05 on DEMoS")
    parser.add_argument("--k-percent", type=float, default=6.8, help="sparse PGD budget (6 500 of 96 000 samples)")
