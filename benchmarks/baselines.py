"""Seconds per 6 s clip of the baseline attacks against Emo18, side by side with the paper's figures.

Every attack runs in this one process on the same clips (real EmoDB speech, unified to 6.0 s =
96 000 samples like DEMoS) against the same **randomly initialised** Emo18 (7 classes): timing needs
the architecture, not trained weights, but a random model is hard to fool, so attacks that stop
early on success run close to their full budget here. Times are the attack call alone (the same
wall clock as the paper's "Speed (s)" column), divided by the number of clips; model queries (clips
scored in forward passes) are counted too. The paper's figures were measured on an unnamed GPU.

One-Pixel at the paper's budget (300 candidates × 21 generations = 6 300 forward passes per clip)
takes minutes per clip on a CPU; ``--onepixel-iterations`` shortens the run, and the table then also
prints the full-budget time implied by the measured seconds per query, labelled as a projection.

    python benchmarks/baselines.py --examples 2 --threads 1 --onepixel-iterations 1
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from staa.attacks.base import Attack
from staa.attacks.onepixel import OnePixel
from staa.attacks.pgd import SparsePGD
from staa.attacks.sparsefool import SparseFool
from staa.audio import load_audio, unify_length
from staa.models import Emo18
from staa.outputs import write_json
from staa.reproducibility import provenance, seed_everything

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "emodb-subset"
SAMPLES = 96_000  # 6.0 s at 16 kHz, the DEMoS clip length

# Paper, Speed (s) per clip: Table 4 (DEMoS, Emo18 threat model) val / test, and the range over
# Tables 4-5 (both corpora, both threat models).
PAPER = {
    "pgd": "1.10 / 1.16   (0.57-2.26)",
    "sparsefool": "18.90 / 8.33  (8.33-418.36)",
    "onepixel": "29.88 / 24.88 (24.88-82.93)",
}


class QueryCounter(nn.Module):
    """The attacked model, counting the clips it scores (forward passes with or without gradients)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.clips = 0

    def forward(self, x: Tensor) -> Tensor:
        self.clips += len(x)
        return self.model(x)


def load_clips(n: int) -> Tensor:
    paths = sorted(CLIPS.glob("*.wav"))[:n]
    if len(paths) < n:
        raise SystemExit(f"need {n} clips in {CLIPS}, found {len(paths)}")
    return torch.from_numpy(np.stack([unify_length(load_audio(p), SAMPLES) for p in paths]))


def measure(label: str, family: str, attack: Attack, counter: QueryCounter, x: Tensor) -> dict[str, Any]:
    counter.clips = 0
    start = time.perf_counter()
    result = attack(x)
    total = time.perf_counter() - start
    queries = counter.clips  # includes the clean and adversarial predictions of Attack.__call__
    return {
        "attack": label,
        "family": family,
        "seconds_per_example": result.seconds_per_example,
        "seconds_per_example_with_checks": total / len(x),
        "queries_per_example": queries / len(x),
        "seconds_per_query": result.seconds / max(1, queries),
        "asr": result.success.float().mean().item(),
        "sparsity_pct": result.sparsity.mean().item(),
        "max_abs_delta": result.delta.abs().max().item(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2)
    parser.add_argument("--eps", type=float, default=0.05, help="paper: 0.05 on DEMoS")
    parser.add_argument("--k-percent", type=float, default=6.8, help="sparse PGD budget (6 500 of 96 000)")
    parser.add_argument("--sparsefool-steps", type=int, default=20)
    parser.add_argument("--onepixel-popsize", type=int, default=300)
    parser.add_argument("--onepixel-iterations", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks/baselines.json"))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    model = Emo18().eval()
    counter = QueryCounter(model)
    x = load_clips(args.examples)
    eps, seed, steps = args.eps, args.seed, args.sparsefool_steps
    popsize, iterations = args.onepixel_popsize, args.onepixel_iterations
    runs = [
        (f"sparse PGD-20 (k = {args.k_percent} %)", "pgd", SparsePGD(counter, eps, k_percent=args.k_percent, seed=seed)),
        ("dense PGD-20", "pgd", SparsePGD(counter, eps, seed=seed)),
        ("SparseFool (all classes)", "sparsefool", SparseFool(counter, eps, steps=steps)),
        ("SparseFool (top class only)", "sparsefool", SparseFool(counter, eps, steps=steps, candidates=1)),
        (
            f"One-Pixel ({popsize} x {iterations + 1} gen.)",
            "onepixel",
            OnePixel(counter, eps, popsize=popsize, iterations=iterations, seed=seed),
        ),
    ]
    rows = []
    for label, family, attack in runs:
        row = measure(label, family, attack, counter, x)
        if family == "onepixel":
            row["projected_seconds_at_paper_budget"] = row["seconds_per_query"] * 300 * 21
        rows.append(row)
        print(f"  measured {label}: {row['seconds_per_example']:.2f} s/clip", flush=True)

    print(f"\n{len(x)} clips of {SAMPLES} samples, random-init Emo18, eps {eps}, {args.threads} thread(s)")
    header = f"{'attack':<34} {'s/clip':>8} {'queries':>8} {'ASR':>5} {'L0 %':>7}"
    print(f"{header}   paper s/clip (GPU; Emo18 DEMoS val / test, range)")
    for row in rows:
        print(
            f"{row['attack']:<34} {row['seconds_per_example']:>8.2f} {row['queries_per_example']:>8.0f} "
            f"{row['asr']:>5.2f} {row['sparsity_pct']:>7.3f}   {PAPER[row['family']]}"
        )
    one = rows[-1]
    if one["queries_per_example"] < 300 * 21:
        print(
            f"One-Pixel at the paper's full budget (300 x 21 = 6 300 queries), projected from "
            f"{one['seconds_per_query'] * 1000:.1f} ms/query: {one['projected_seconds_at_paper_budget']:.0f} s/clip"
        )
    pgd = rows[1]["seconds_per_example"]
    ratios = ", ".join(f"{r['attack']} {r['seconds_per_example'] / pgd:.2f}x" for r in rows)
    print(f"ratios to dense PGD-20: {ratios}")
    config = {**vars(args), "out": str(args.out), "samples": SAMPLES, "model": "emo18 (random init)"}
    write_json(args.out, {"rows": rows, "paper_seconds": PAPER, "provenance": provenance(config, seed)})
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
