"""Does the shallow adjoint generator fool more when its context first learns the adjoint generator's map?

Probe: a fresh shallow generator's context is trained for ``--distil-steps`` to match, clip by clip, the
sample map z of a trained adjoint generator (1 − cosine over each clip's samples, random 1 s crops of the
training split), then fine-tuned on the attack loss exactly as the shipped experiment trains generators
(``train.steps`` of the ``topk`` recipe), and scored on the test split's clips (ASR with its 95 % interval).

    OMP_NUM_THREADS=1 PYTHONPATH=src python research/shallow_distil.py --threat runs/emodb-full/models/emo18/best \\
        --teacher runs/curve/A/seed0/best --root /data/emodb/wav --cache runs/curve/cache --out runs/distil
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from staa.attacks.staa import Generator, GeneratorConfig, STAANet, STAATrainConfig, train_generator
from staa.data.cache import prepare
from staa.data.registry import build_corpus
from staa.models import load_model
from staa.uncertainty import asr_interval

AUGMENT = {"speed": 0.1, "gain_db": 6.0, "noise_prob": 0.5, "snr_db": [20.0, 40.0], "crop_seconds": 1.0}


def crops(waves: np.ndarray, batch: int, length: int, rng: np.random.Generator) -> torch.Tensor:
    rows = rng.integers(0, len(waves), batch)
    starts = rng.integers(0, waves.shape[1] - length + 1, batch)
    return torch.from_numpy(np.stack([waves[r, s : s + length] for r, s in zip(rows, starts)]).astype(np.float32))


def cosine(student: Generator, teacher: Generator, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        target = teacher.adjoint(x)
    return F.cosine_similarity(student.adjoint(x), target, dim=-1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threat", type=Path, required=True)
    p.add_argument("--teacher", type=Path, required=True)
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--distil-steps", type=int, default=600)
    p.add_argument("--steps", type=int, default=400, help="attack-loss fine-tuning steps")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--context-channels", type=int, default=256)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    threat = load_model(args.threat).eval()
    corpus = prepare(build_corpus("emodb", args.root), args.cache, show_progress=False)
    teacher = Generator.from_pretrained(args.teacher).eval()
    student = Generator.for_config(
        GeneratorConfig.shallow(
            eps_db=teacher.config.eps_db, k_percent=teacher.config.k_percent, context_channels=args.context_channels
        ),  # fmt: skip
        [threat],
    )
    waves = np.asarray(corpus.split("train").waves)
    val = torch.from_numpy(np.array(corpus.split("val").waves[:32], dtype=np.float32))
    rng = np.random.default_rng(args.seed)
    opt = torch.optim.Adam(student.context.parameters(), lr=args.lr)
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    for step in range(1, args.distil_steps + 1):
        student.train()
        loss = (1 - cosine(student, teacher, crops(waves, 8, 16000, rng))).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.distil_steps:
            student.eval()
            with torch.no_grad():
                val_cos = float(cosine(student, teacher, val).mean())
            print(f"distil step {step}: train 1−cos {float(loss):.3f}, val cosine {val_cos:.3f}, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    config = STAATrainConfig.preset("topk", steps=args.steps, dense_steps=args.steps // 4,
                                    anneal_steps=args.steps * 3 // 8, eval_every=50, augment=dict(AUGMENT),
                                    seed=args.seed)  # fmt: skip
    scores = {}
    if args.steps:
        train_generator(student, [threat], corpus, args.out / "tuned", config, show_progress=False)
        student = Generator.from_pretrained(args.out / "tuned" / "best")
    test = torch.from_numpy(np.array(corpus.split("test").waves, dtype=np.float32))
    out = STAANet(threat, student)(test)
    ci = asr_interval(out.clean_pred.numpy(), out.adv_pred.numpy())
    scores = {"asr": ci.value, "low": ci.low, "high": ci.high, "clips": len(test),
              "sparsity_pct": float(out.sparsity.mean())}  # fmt: skip
    print(json.dumps(scores))
    (args.out / "score.json").write_text(json.dumps(scores))


if __name__ == "__main__":
    main()
