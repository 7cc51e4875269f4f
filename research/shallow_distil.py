"""Does the shallow adjoint generator fool more when its context first learns the adjoint generator's map?

Probe: a fresh shallow generator's context is distilled for ``--distil-steps`` from a trained adjoint
generator (:mod:`staa.attacks.staa.distil`; 0: no distillation), then trained on the attack loss as the shipped
``emodb`` experiment trains generators (the ``topk`` recipe with its augmentation, ``--steps``), and scored on the
test split's clips (ASR with its 95 % interval).

    OMP_NUM_THREADS=1 PYTHONPATH=src python research/shallow_distil.py --threat runs/emodb-full/models/emo18/best \\
        --teacher runs/curve/A/seed0/best --root /data/emodb/wav --cache runs/curve/cache --out runs/distil
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from staa.attacks.staa import Generator, GeneratorConfig, STAANet, STAATrainConfig
from staa.data.cache import prepare
from staa.data.registry import build_corpus
from staa.models import load_model
from staa.training.generator import train_staa_generator
from staa.uncertainty import asr_interval

AUGMENT = {"speed": 0.1, "gain_db": 6.0, "noise_prob": 0.5, "snr_db": [20.0, 40.0], "crop_seconds": 1.0}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threat", type=Path, required=True)
    p.add_argument("--teacher", type=Path, required=True)
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--distil-steps", type=int, default=600)
    p.add_argument("--steps", type=int, default=400, help="attack-loss fine-tuning steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--context-channels", type=int, default=None, help="default: the preset's")
    args = p.parse_args()
    threat = load_model(args.threat).eval()
    corpus = prepare(build_corpus("emodb", args.root), args.cache, show_progress=False)
    teacher = Generator.from_pretrained(args.teacher)
    width = {} if args.context_channels is None else {"context_channels": args.context_channels}
    student = GeneratorConfig.shallow(eps_db=teacher.config.eps_db, k_percent=teacher.config.k_percent, **width)
    config = STAATrainConfig.preset("topk", steps=args.steps, dense_steps=args.steps // 4,
                                    anneal_steps=args.steps * 3 // 8, eval_every=50, augment=dict(AUGMENT),
                                    seed=args.seed)  # fmt: skip
    train_staa_generator(student, config, [threat], corpus, args.out, show_progress=False,
                         teacher=args.teacher if args.distil_steps else None, distil_steps=args.distil_steps)  # fmt: skip
    student = Generator.from_pretrained(args.out / "best")
    test = torch.from_numpy(np.array(corpus.split("test").waves, dtype=np.float32))
    out = STAANet(threat, student)(test)
    ci = asr_interval(out.clean_pred.numpy(), out.adv_pred.numpy())
    scores = {"asr": ci.value, "low": ci.low, "high": ci.high, "clips": len(test),
              "sparsity_pct": float(out.sparsity.mean())}  # fmt: skip
    print(json.dumps(scores))
    args.out.with_name(args.out.name + "-score.json").write_text(json.dumps(scores))  # beside the claimed folder


if __name__ == "__main__":
    main()
