"""Generator inference speed: milliseconds per 6 s clip, authors' vs fast architecture, side by side.

Both generators run in the same process on the same random clips (eval mode, no gradients), after a
warm-up pass, interleaved repeat by repeat so that machine load affects both alike; the median of the
repeats is reported with the ratio. On CUDA every timing is synchronised.

    python benchmarks/generator_speed.py [--device cpu] [--threads 1] [--repeats 5] [--seconds 6]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from staa.attacks.staa import Generator, GeneratorConfig
from staa.audio import SAMPLE_RATE


def time_forward(generator: Generator, x: torch.Tensor) -> float:
    if x.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.no_grad():
        generator(x)
    if x.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    generators = {
        name: Generator(config).eval().to(args.device)
        for name, config in (("authors", GeneratorConfig.authors()), ("fast", GeneratorConfig.fast()))
    }
    n = int(args.seconds * SAMPLE_RATE)
    print(f"device {args.device}, {torch.get_num_threads()} thread(s), {args.seconds:g} s clips, median of {args.repeats}")
    for name, g in generators.items():
        print(f"  {name:8s} {g.num_parameters():>11,d} parameters")
    print(f"{'batch':>5} {'authors ms/clip':>16} {'fast ms/clip':>13} {'speed-up':>9}")
    for batch in args.batches:
        x = (torch.rand(batch, n, device=args.device) * 2 - 1) * 0.5
        times: dict[str, list[float]] = {name: [] for name in generators}
        for g in generators.values():
            time_forward(g, x)  # warm-up: allocator, kernels, size plan
        for _ in range(args.repeats):
            for name, g in generators.items():
                times[name].append(time_forward(g, x))
        ms = {name: 1000 * statistics.median(t) / batch for name, t in times.items()}
        print(f"{batch:>5} {ms['authors']:>16.1f} {ms['fast']:>13.1f} {ms['authors'] / ms['fast']:>8.1f}x")


if __name__ == "__main__":
    main()
