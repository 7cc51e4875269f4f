"""Median peak SNR of every attack row of one experiment file on several corpora: does its budget travel?

Each per-clip attack of the experiment file (its own settings and its budget, ``eps`` or ``eps_db``) attacks
the first ``--clips`` test clips of each corpus, crafted on an untrained Emo18 of the file's threat model
(the loudness of δ is the budget's business, not the model's; an untrained model keeps the run to minutes
on one core). STAA-Net rows are stood in for by an untrained generator of the file's architecture at the
file's budget (the adjoint one on the untrained threat's front end) (its magnitudes ε·tanh never reach ε, so its SNR sits above the budget). Printed: a Markdown
table of the median peak SNR (dB, over the clips whose δ is not zero) per attack and corpus, and the spread
(largest minus smallest median) per row.

Reproduce, e.g. the shipped ``emodb`` file at its relative budget and at the absolute ε 0.05 it replaced::

    python research/budget_snr.py emodb --emodb /work/shared/data/emodb-subset \\
        --ravdess /work/shared/data/ravdess-subset --clips 16
    python research/budget_snr.py emodb --set eps_db=null --set eps=0.05 --emodb ... --ravdess ...

(``--set attackers.sparsefool.settings.deepfool_steps=10`` keeps SparseFool, whose DeepFool steps on an
untrained model rarely cross a boundary, to minutes.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile

import numpy as np
import torch

from staa.attacks.staa import Generator, STAANet
from staa.data.cache import prepare
from staa.data.registry import build_corpus
from staa.experiment import load_config
from staa.experiment.plans import attacker_plans, generator_config, per_clip_attack
from staa.models import build_model


def rows(config: dict, num_classes: int) -> dict[str, object]:
    """Label → attack for every per-clip and STAA-Net row of the file, on one untrained threat model."""
    threat = config["threat_models"][0]
    torch.manual_seed(0)
    model = build_model(config["models"][threat]["arch"], num_classes=num_classes).eval()
    out = {}
    for plan in attacker_plans(config, threat):
        if plan.group != "comparison" or plan.attack == "universal":
            continue
        if plan.attack == "staa":
            cfg = generator_config(plan)
            torch.manual_seed(0)
            generator = Generator.for_config(cfg, [model]).eval()
            out[f"{plan.label} (untrained {cfg.architecture})"] = STAANet(model, generator, **plan.budget)
        else:
            out[plan.label] = per_clip_attack(plan, model)
    return out


def median_snr(attack, x: torch.Tensor) -> float:
    torch.manual_seed(0)
    snr = attack(x).snr_db
    return float(snr[torch.isfinite(snr)].median()) if torch.isfinite(snr).any() else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--emodb")
    parser.add_argument("--ravdess")
    parser.add_argument("--clips", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpora = {"synthetic": None, "emodb": args.emodb, "ravdess": args.ravdess}
    medians: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as cache:
        for name, root in corpora.items():
            if name != "synthetic" and root is None:
                continue
            corpus = build_corpus(name, root) if root else build_corpus(name)
            prepared = prepare(corpus, cache, show_progress=False)
            x = torch.from_numpy(np.array(prepared.split("test").waves[: args.clips], dtype=np.float32))
            config = load_config(args.experiment, [f"corpus.root={root or '/'}", *args.overrides])
            for label, attack in rows(config, len(prepared.classes)).items():
                medians.setdefault(label, {})[name] = median_snr(attack, x)
                print(f"{name}: {label}: {medians[label][name]:.2f} dB", file=sys.stderr, flush=True)
    names = list(next(iter(medians.values())))
    print("| attack | " + " | ".join(names) + " | spread (dB) |")
    print("|---" * (len(names) + 2) + "|")
    for label, per in medians.items():
        values = [per[n] for n in names]
        print(f"| {label} | " + " | ".join(f"{v:.1f}" for v in values) + f" | {max(values) - min(values):.1f} |")


if __name__ == "__main__":
    main()
