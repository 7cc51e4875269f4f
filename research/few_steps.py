"""How many gradient steps does a corpus's threat need? Untrained guided generators against sparse PGD, step by step.

The guided generator before training is an exact sparse gradient attack: one stage is one step (its positions the
top-k of the threat's −∂L/∂x at the clean clip, ε with its signs there), N stages add the normalised maps of N
steps, each at the clip the steps before it made and against the clean clip's class. Sparse PGD with the shipped
settings (α = ε/4, a random start on its support, the top-k of the clean gradient) is run with the same few steps
on the same clips. Where the trained generator stands between these rows says what training adds and what only
more steps can (docs/results/guided-generator.md).

    python research/few_steps.py --threat runs/ravdess-full/models/emo18/best --corpus ravdess \\
        --root /data/ravdess --cache runs/ravdess-full/cache --stages 1 2 3 --pgd-steps 1 2 3
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from staa.attacks import SparsePGD
from staa.attacks.staa import Generator, GeneratorConfig, STAANet
from staa.data.base import SPLITS
from staa.data.cache import PreparedCorpus, prepare, seeded_rows
from staa.data.registry import build_corpus
from staa.models import load_model
from staa.uncertainty import asr_interval


def test_clips(corpus: PreparedCorpus, max_examples: int | None, seed: int = 0) -> Tensor:
    """The test clips an experiment with this ``max_examples`` and seed attacks (all when None)."""
    test = corpus.split("test")
    rows = seeded_rows(len(test), max_examples, [seed, SPLITS.index("test")])
    return torch.from_numpy(np.array(test.waves[rows], dtype=np.float32))


def row(attack: str, steps: int, clean: list[int], adv: list[int]) -> dict[str, Any]:
    """One line of the table: fooled clips and ASR with its 95 % bootstrap interval."""
    ci = asr_interval(clean, adv)
    fooled = int(sum(c != a for c, a in zip(clean, adv, strict=True)))
    return {"attack": attack, "steps": steps, "fooled": fooled, "clips": len(clean), "asr": ci.value,
            "low": ci.low, "high": ci.high}  # fmt: skip


def untrained_guided(threat: Any, x: Tensor, stages: int, args: argparse.Namespace) -> dict[str, Any]:
    """The guided generator of ``stages`` stages with its initial (zero) corrections, on ``x`` in chunks."""
    config = GeneratorConfig.preset("guided", eps_db=args.eps_db, k_percent=args.k_percent, stages=stages)
    generator = Generator.for_config(config, [threat]).eval()
    clean, adv = [], []
    for i in range(0, len(x), args.chunk):
        out = STAANet(threat, generator)(x[i : i + args.chunk])
        clean += out.clean_pred.tolist()
        adv += out.adv_pred.tolist()
    return row("guided generator, untrained", stages, clean, adv)


def sparse_pgd(threat: Any, x: Tensor, steps: int, args: argparse.Namespace) -> dict[str, Any]:
    """Sparse PGD with the shipped settings and ``steps`` steps, each chunk's random start seeded by its index."""
    clean, adv = [], []
    for i in range(0, len(x), args.chunk):
        attack = SparsePGD(threat, eps_db=args.eps_db, k_percent=args.k_percent, steps=steps, seed=i)
        out = attack(x[i : i + args.chunk])
        clean += out.clean_pred.tolist()
        adv += out.adv_pred.tolist()
    return row("sparse PGD", steps, clean, adv)


def table(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| attack | steps | fooled | ASR % (95 % CI) |", "|---|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['attack']} | {r['steps']} | {r['fooled']} of {r['clips']} | {100 * r['asr']:.1f} "
                     f"({100 * r['low']:.1f}–{100 * r['high']:.1f}) |")  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threat", type=Path, required=True, help="the threat model's checkpoint folder")
    p.add_argument("--corpus", default="emodb")
    p.add_argument("--root", type=Path, required=True, help="the corpus's folder")
    p.add_argument("--cache", type=Path, required=True, help="folder of prepared corpora")
    p.add_argument("--max-examples", type=int, help="a seeded draw of the test clips, as the experiment's")
    p.add_argument("--stages", type=int, nargs="*", default=[1, 2])
    p.add_argument("--pgd-steps", type=int, nargs="*", default=[1, 2, 3])
    p.add_argument("--eps-db", type=float, default=26.0)
    p.add_argument("--k-percent", type=float, default=10.0)
    p.add_argument("--chunk", type=int, default=24, help="clips per forward and backward pass")
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    threat = load_model(args.threat).eval()
    corpus = prepare(build_corpus(args.corpus, args.root), args.cache, show_progress=False)
    threat.check_fits(corpus.classes, corpus.sample_rate, args.threat, length=corpus.length)
    x = test_clips(corpus, args.max_examples)
    rows = []
    for stages in args.stages:
        rows.append(untrained_guided(threat, x, stages, args))
        print(json.dumps(rows[-1]), flush=True)
    for steps in args.pgd_steps:
        rows.append(sparse_pgd(threat, x, steps, args))
        print(json.dumps(rows[-1]), flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
