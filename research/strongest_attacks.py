"""The state-of-the-art sparse attacks against the paper's baselines, on real speech, from one checkpoint.

Three comparisons on the same clips (the test split of a prepared corpus, EmoDB by default) against
the same trained SER model, ε = 0.05:

1. **PGD₀ vs sparse PGD-20** at k = 10 % of the samples: re-selecting positions every step
   (``pgd0``, 20 steps, one restart) against positions fixed at the clean clip (``pgd``, 20 steps).
2. **Sparse-RS vs One-Pixel** at the same query budget and the same L0 budget (k = 10 %): random
   search over positions and ±ε values against differential evolution over (position, value) genes
   (``--queries`` = popsize × generations).
3. **Minimum L0 per clip**: σ-zero and FMN-L0 with the same number of steps; the median minimum L0
   over the clips each fools, and the median over all clips with an unfooled clip counting as
   "more than N" (reported as inf when half or more are unfooled).

Every figure is printed with the number of clips it rests on. Reproduce (after training Emo18 with
``staa ser train emo18 --corpus emodb --root ../shared/data/emodb-subset --out /tmp/a13/emo18 --epochs 20``):

    python research/strongest_attacks.py --checkpoint /tmp/a13/emo18/best \\
        --root ../shared/data/emodb-subset [--only pgd sparse_rs min_l0]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from study import add_shared_arguments

from staa.attacks import FMNL0, PGD0, OnePixel, SigmaZero, SparsePGD, SparseRS
from staa.attacks.base import Attack
from staa.data.cache import prepare
from staa.data.registry import build_corpus
from staa.io.outputs import write_json
from staa.models import load_model
from staa.runtime.reproducibility import provenance, seed_everything

GROUPS = ("pgd", "sparse_rs", "min_l0")


def summarise(label: str, attack: Attack, x: torch.Tensor, minimum_norm: bool) -> dict[str, Any]:
    """ASR and L0 of one attack; the median minimum L0 over all clips only for minimum-norm attacks."""
    result = attack(x)
    l0 = result.l0.double()
    fooled = result.success
    minimum = torch.where(fooled, l0, torch.full_like(l0, math.inf))
    return {
        "attack": label,
        "clips": len(x),
        "fooled": int(fooled.sum()),
        "asr": float(fooled.double().mean()),
        "median_l0_fooled": float(l0[fooled].median()) if fooled.any() else None,
        "median_min_l0_all": float(minimum.median()) if minimum_norm else None,
        "max_abs_delta": float(result.delta.abs().max()),
        "seconds_per_clip": result.seconds_per_example,
        "l0_per_clip": result.l0.tolist(),  # per-clip answers, for comparisons clip by clip
        "success_per_clip": fooled.tolist(),
    }


def attacks(group: str, args: argparse.Namespace, model: torch.nn.Module, n: int) -> list[tuple[str, Attack]]:
    eps, seed, k = args.eps, args.seed, args.k_percent
    if group == "pgd":
        return [
            (f"sparse PGD-20 (pgd, k {k:g} %)", SparsePGD(model, eps, k_percent=k, steps=20, seed=seed)),
            (f"PGD0 (pgd0, k {k:g} %, 20 steps)", PGD0(model, eps, k_percent=k, steps=20, seed=seed)),
        ]
    if group == "sparse_rs":
        popsize = args.onepixel_popsize
        pixels = SparseRS(model, eps, k_percent=k).budget(n)
        return [
            (
                f"Sparse-RS (k {k:g} %, {args.queries} queries)",
                SparseRS(model, eps, k_percent=k, queries=args.queries, seed=seed),
            ),
            (
                f"One-Pixel ({pixels} pixels, {popsize} x {args.queries // popsize} = {args.queries} queries)",
                OnePixel(model, eps, pixels=pixels, popsize=popsize, iterations=args.queries // popsize - 1, seed=seed),
            ),
        ]
    return [
        (f"sigma-zero ({args.steps} steps)", SigmaZero(model, eps, steps=args.steps)),
        (f"FMN-L0 ({args.steps} steps)", FMNL0(model, eps, steps=args.steps)),
    ]


def report(rows: list[dict[str, Any]], n: int) -> str:
    lines = [
        f"{'attack':<58} {'clips':>5} {'fooled':>6} {'ASR':>6} {'med L0 (fooled)':>16} {'med min L0 (all)':>17} {'s/clip':>7}"
    ]
    for r in rows:
        fooled_l0 = (
            "-"
            if r["median_l0_fooled"] is None
            else f"{r['median_l0_fooled']:.0f} ({100 * r['median_l0_fooled'] / n:.2f} %)"
        )
        lines.append(
            f"{r['attack']:<58} {r['clips']:>5} {r['fooled']:>6} {100 * r['asr']:>5.1f}% {fooled_l0:>16} "
            f"{'-' if r['median_min_l0_all'] is None else format(r['median_min_l0_all'], '.0f'):>17} {r['seconds_per_clip']:>7.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_arguments(parser)
    parser.add_argument("--checkpoint", type=Path, required=True, help="a trained SER model folder (save_pretrained)")
    parser.add_argument("--corpus", default="emodb")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=Path("runs/cache"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--queries", type=int, default=300, help="Sparse-RS and One-Pixel query budget per clip")
    parser.add_argument("--onepixel-popsize", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100, help="sigma-zero and FMN-L0 steps")
    parser.add_argument("--only", nargs="*", choices=GROUPS, default=list(GROUPS))
    parser.add_argument("--out", type=Path, default=Path("runs/research/strongest_attacks.json"))
    parser.set_defaults(k_percent=10.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    corpus = prepare(build_corpus(args.corpus, args.root), args.cache, show_progress=False)
    x = torch.from_numpy(np.array(corpus.split(args.split).waves)).float().to(args.device)
    model = load_model(args.checkpoint).eval().to(args.device)
    print(f"{len(x)} {args.split} clips of {x.shape[1]} samples, eps {args.eps}, model {args.checkpoint}", flush=True)
    rows = []
    for group in args.only:
        for label, attack in attacks(group, args, model, x.shape[1]):
            rows.append(summarise(label, attack, x, minimum_norm=group == "min_l0"))
            print(report(rows[-1:], x.shape[1]).splitlines()[1], flush=True)
    print(report(rows, x.shape[1]))
    config = {**{k: str(v) for k, v in vars(args).items()}, "clips": len(x), "samples": x.shape[1]}
    write_json(args.out, {"rows": rows, "provenance": provenance(config, args.seed)})
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
