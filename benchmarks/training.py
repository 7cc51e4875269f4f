"""Generator training cost: clips per second and peak memory of training steps against Emo18.

One process per configuration (``run_all.py`` starts it as a subprocess), so that the peak resident
memory it reports belongs to that training alone: the generator in train mode, Emo18 frozen, the
paper's loss (Eq. 7) and an Adam step on a batch of 6 s clips — exactly the trainer's step. The first
step is a warm-up and is not timed. ``--checkpointing`` recomputes the generator's activations in the
backward pass and ``--micro-batch`` accumulates the batch's gradient over parts of that many clips (the
trainer's options of the same names): run a configuration with and without them to see the memory they
save and the time they cost.

    python benchmarks/training.py --config authors --steps 1 [--checkpointing] [--micro-batch 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from common import load_clips, peak_rss_gib, sync

from staa.attacks.staa import Generator, GeneratorConfig, STAATrainConfig
from staa.attacks.staa.trainer import backward_step
from staa.models import Emo18


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=list(GeneratorConfig.PRESETS), default="realtime")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=1, help="intra-op threads (2 for the 2-core goal on a quiet machine)"
    )
    parser.add_argument("--checkpointing", action="store_true", help="activation checkpointing in the generator")
    parser.add_argument("--micro-batch", type=int, help="accumulate the gradient over parts of this many clips")
    parser.add_argument("--json", help="write the result here as JSON (one object)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    victim = Emo18().eval().requires_grad_(False).to(args.device)
    generator = Generator.for_config(GeneratorConfig.preset(args.config), [victim]).train().to(args.device)
    generator.checkpoint_activations(args.checkpointing)
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-4)
    train_config = STAATrainConfig.paper(batch_size=args.batch, micro_batch=args.micro_batch)
    x = load_clips(args.batch, device=args.device)
    seconds = []
    for step in range(args.steps + 1):
        sync(args.device)
        start = time.perf_counter()
        optimizer.zero_grad()
        backward_step(generator, [victim], x, train_config)
        optimizer.step()
        sync(args.device)
        if step:
            seconds.append(time.perf_counter() - start)
    result = {
        "config": args.config,
        "batch": args.batch,
        "checkpointing": args.checkpointing,
        "micro_batch": args.micro_batch,
        "parameters": generator.num_parameters(),
        "clips_per_second": args.batch * len(seconds) / sum(seconds),
        "seconds_per_step": sum(seconds) / len(seconds),
        "peak_rss_gib": peak_rss_gib(),
        "peak_cuda_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
