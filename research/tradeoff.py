"""The speed/quality trade-off of trained generators: parameters, ms per clip, white-box ASR, sparsity.

Needs trained checkpoints (``staa generator train``), so it is not part of the default suite: give the
victim, the prepared corpus and one ``name=folder`` per generator. Every generator attacks the same
split of the same corpus against the same victim (white-box ASR, mean sparsity over successful clips as
in the paper, and over all clips). Crafting time is per 6 s clip (96 000 samples, as
benchmarks/generator_speed.py) at batch 1: every fused generator and sparse PGD-20 on the same victim
(20 full steps, no early stop) timed interleaved in this run, so the PGD-20 / generator ratios are
side by side. The goal set for the real-time configuration: ≥ 100× below PGD-20, ASR within
5 points of the default generator's, sparsity no higher. ``best/`` is a run's epoch of highest validation
ASR, in a short run often an early, denser one: give ``last/`` as well to compare equal training budgets.

    python research/tradeoff.py --victim runs/emo18/best --corpus runs/cache/<key> \\
        --generators authors=runs/gen-authors/best realtime=runs/gen-realtime/best [--split test]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from study import SAMPLES, interleaved, load_clips, markdown

from staa.attacks.pgd import SparsePGD
from staa.attacks.staa import Generator, STAANet
from staa.attacks.staa.fused import fuse
from staa.data.cache import PreparedCorpus
from staa.defaults import DEFAULT_EPS
from staa.io.outputs import write_json
from staa.models import load_model
from staa.runtime.reproducibility import provenance


def evaluate(attack: STAANet, waves: np.ndarray, batch: int) -> dict[str, float]:
    """ASR and sparsity of ``attack`` over every clip of ``waves``."""
    success, spars = [], []
    for i in range(0, len(waves), batch):
        result = attack(torch.from_numpy(np.array(waves[i : i + batch], dtype=np.float32)))
        success.append(result.success)
        spars.append(result.sparsity)
    ok, sp = torch.cat(success), torch.cat(spars)
    return {
        "asr": float(ok.float().mean()),
        "sparsity_pct": float(sp[ok].mean()) if ok.any() else float("nan"),
        "sparsity_pct_all": float(sp.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victim", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True, help="a prepared corpus folder (runs/cache/...)")
    parser.add_argument("--generators", nargs="+", required=True, metavar="NAME=FOLDER")
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eps", type=float, default=DEFAULT_EPS, help="sparse PGD-20's ε (the generators': their own)")
    parser.add_argument("--k-percent", type=float, default=6.8, help="sparse PGD budget (6 500 of 96 000 samples)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/research/tradeoff.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    victim = load_model(args.victim).eval()
    waves = PreparedCorpus.load(args.corpus).split(args.split).waves
    generators = {
        name: Generator.from_pretrained(folder) for name, folder in (g.split("=", 1) for g in args.generators)
    }
    clip = load_clips(1, SAMPLES)
    fused = {name: fuse(g) for name, g in generators.items()}
    pgd = SparsePGD(victim, args.eps, k_percent=args.k_percent, early_stop=False, seed=args.seed)
    labels = victim(clip).argmax(-1)

    def craft(g: Generator) -> Callable[[], object]:
        def call() -> object:
            with torch.no_grad():
                return g(clip)

        return call

    contenders = {"sparse PGD-20": lambda: pgd.perturb(clip, labels), **{name: craft(g) for name, g in fused.items()}}
    seconds = interleaved(contenders, args.repeats, "cpu")
    pgd_s = seconds.pop("sparse PGD-20")
    rows: list[dict[str, Any]] = []
    for name, g in generators.items():
        quality = evaluate(STAANet(victim, g, batch_size=args.batch), waves, args.batch)
        rows.append(
            {"config": name, "parameters": g.num_parameters(), "ms_per_example": 1000 * seconds[name],
             "pgd20_over_generator": pgd_s / seconds[name], **quality}
        )  # fmt: skip
    print(f"sparse PGD-20: {1000 * pgd_s:.0f} ms per {SAMPLES}-sample clip")
    print(
        markdown(
            [
                "generator",
                "parameters",
                "ms/6 s clip (fused, batch 1)",
                "PGD-20 / generator",
                "ASR %",
                "sparsity % (successes)",
                "sparsity % (all)",
            ],
            [
                [
                    r["config"],
                    f"{r['parameters']:,}",
                    f"{r['ms_per_example']:.1f}",
                    f"{r['pgd20_over_generator']:.0f}x",
                    f"{100 * r['asr']:.1f}",
                    f"{r['sparsity_pct']:.2f}",
                    f"{r['sparsity_pct_all']:.2f}",
                ]
                for r in rows
            ],  # fmt: skip
        )
    )
    config = {**vars(args), "victim": str(args.victim), "corpus": str(args.corpus), "out": str(args.out)}
    write_json(
        args.out,
        {
            "rows": rows,
            "pgd20_seconds_per_example": pgd_s,
            "clip_samples": clip.shape[1],
            "provenance": provenance(config),
        },
    )


if __name__ == "__main__":
    main()
