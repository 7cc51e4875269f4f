"""Kernel time of CPU steps with glibc's default heap trimming and with :mod:`staa.runtime.allocator`'s padding.

Alternates the two settings in one process (default, padded, default, padded, ...) over the same Emo18
forward and backward steps on random clips, and prints per setting the median wall time, user and kernel
(sys) CPU seconds and page faults per round, then the ratio default / padded. Linux with glibc only.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/allocator.py [--seconds 3.5] [--batch 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import torch

from staa.models import build_model
from staa.runtime import allocator


def one_round(model: torch.nn.Module, x: torch.Tensor, steps: int) -> tuple[float, float, float, int]:
    """(wall, user, sys, minor page faults) of ``steps`` forward and backward passes."""
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(steps):
        clip = x.clone().requires_grad_(True)
        model(clip).logsumexp(-1).sum().backward()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter() - t0, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.5, help="clip length (RAVDESS: 3.5 s at 16 kHz)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5, help="forward and backward passes per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per setting, alternated")
    args = parser.parse_args()
    if not allocator.glibc():
        sys.exit("this C library has no M_TOP_PAD (glibc only): nothing to compare")
    torch.manual_seed(0)
    model = build_model("emo18", num_classes=8).eval()
    x = 0.1 * torch.randn(args.batch, int(args.seconds * 16_000))
    one_round(model, x, 1)  # warm-up
    rows: dict[str, list[tuple[float, float, float, int]]] = {"default": [], "padded": []}
    for _ in range(args.rounds):
        for name, mib in (("default", 0), ("padded", allocator.DEFAULT_PAD_MIB)):
            allocator.keep_freed_memory(mib)
            rows[name].append(one_round(model, x, args.steps))
    print(
        f"Emo18, {args.batch} clips of {args.seconds} s, {args.steps} steps per round, {args.rounds} rounds each, "
        f"{torch.get_num_threads()} thread(s)"
    )
    print("| setting | wall s | user s | sys s | page faults |\n|---|---|---|---|---|")
    medians = {}
    for name, values in rows.items():
        medians[name] = [statistics.median(v[i] for v in values) for i in range(4)]
        wall, user, kernel, faults = medians[name]
        print(f"| {name} | {wall:.2f} | {user:.2f} | {kernel:.2f} | {faults:.0f} |")
    print(f"\nwall time default / padded: {medians['default'][0] / medians['padded'][0]:.2f}×")


if __name__ == "__main__":
    main()
