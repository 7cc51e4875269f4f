"""Peak memory of attacking one long clip whole: what ``staa generator apply --max-seconds`` guards.

A generator ranks the positions of the whole clip and Emo18 pools over all of it, so a clip is never cut
and memory grows with its length. Each generator preset attacks one clip of ``--seconds`` against a
randomly initialised Emo18 (memory needs the architecture, not trained weights) in a subprocess of its
own, so each peak resident memory is that configuration's alone (``ru_maxrss`` of the child).

    python benchmarks/clip_memory.py --seconds 60 --presets fast realtime authors
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import torch

from staa.attacks.staa import Generator, GeneratorConfig, STAANet
from staa.models import build_model

GIB = 1 << 30


def attack_once(preset: str, seconds: float) -> None:
    """The measured work: one ``seconds``-long clip through STAANet(preset) against Emo18."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    victim = build_model("emo18", num_classes=7).eval()
    attack = STAANet(victim, Generator.for_config(GeneratorConfig.preset(preset), [victim]).eval())
    attack((torch.rand(1, int(seconds * 16_000)) - 0.5) * 0.5)


def peak_gib(preset: str, seconds: float) -> float:
    """Peak resident memory (GiB) of :func:`attack_once` in a fresh interpreter."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, __file__, "--child", preset, "--seconds", str(seconds)], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{preset}: the measured run failed")
    return usage.ru_maxrss * 1024 / GIB  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--presets", nargs="+", default=list(GeneratorConfig.PRESETS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        attack_once(args.child, args.seconds)
        return
    print(f"| generator | peak memory, one {args.seconds:g} s clip against Emo18 |\n|---|---|")
    for preset in args.presets:
        print(f"| {preset} | {peak_gib(preset, args.seconds):.2f} GiB |", flush=True)


if __name__ == "__main__":
    main()
