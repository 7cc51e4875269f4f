"""STAA-Net crafting speed against sparse PGD-20 and PGD₀-20, and, for trained generators, their success.

For every batch size and thread count asked, every generator preset (fused inference copy, eval mode, no
gradients), sparse PGD-20 and PGD₀-20 (same threat, ε and sample budget; all 20 steps, no early stop, so
the cost does not depend on how easily a clip is fooled) are timed interleaved, repeat by repeat, in this
one process on the same 6 s clips; each ratio PGD/generator is the paper's speed claim measured here.
Without checkpoints the threat is an untrained Emo18 and the generators are untrained (weights do not
change the cost). With ``--threat-checkpoint`` and ``--generator NAME=DIR`` the trained ones are timed,
and each generator's ASR, sparsity and SNR are measured on a corpus split (``--corpus``, ``--root``,
``--split``), so that speed and success are read together. The `realtime` Wave-U-Net's streamable variant
(batch norm, threshold mask) is also streamed in 0.1 s chunks (real-time factor, largest deviation from the
offline pass); the adjoint presets rank the whole clip and standardise it, so they do not stream.

    python benchmarks/generator_speed.py [--configs authors fast realtime adjoint shallow guided] [--batches 1 16]
        [--thread-counts 1 2] [--repeats 3] [--adjoint-draws 4] [--guided-stages 2] [--threat emo18|wav2vec2-base]
        [--threat-checkpoint DIR --generator adjoint=DIR --generator shallow=DIR --corpus emodb --root DIR]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import SAMPLES, add_shared_arguments, interleaved, load_clips
from transformers import Wav2Vec2Config

from staa.attacks.pgd import SparsePGD
from staa.attacks.pgd0 import PGD0
from staa.attacks.staa import Generator, GeneratorConfig, STAANet
from staa.attacks.staa.fused import fuse
from staa.attacks.staa.streaming import StreamingGenerator
from staa.audio import SAMPLE_RATE
from staa.data.cache import prepare
from staa.data.registry import build_corpus
from staa.metrics import median_snr
from staa.models import Emo18, SERModel, build_model, load_model
from staa.runtime import allocator
from staa.uncertainty import asr_interval

BASELINES = ("sparse PGD-20", "PGD0-20")


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    model = (load_model(args.threat_checkpoint) if args.threat_checkpoint else threat_model(args.threat)).eval()
    model.to(args.device)
    generators = build_generators(args, model)
    thread_counts = args.thread_counts or [args.threads]
    cells = [timed_cell(args, model, generators, b, t) for b in args.batches for t in thread_counts]
    first = cells[0]
    result: dict[str, Any] = {
        "cells": cells,
        # batch and threads of the first cell: what run_all.py and docs/results/speed.md quote
        "pgd20_seconds_per_example": first["seconds_per_example"]["sparse PGD-20"],
        "generators": [
            {
                "config": name,
                "parameters": g.num_parameters(),
                "ms_per_example_fused": 1000 * first["seconds_per_example"][name],
                "pgd20_over_fused": first["ratios"][name]["sparse PGD-20"],
            }
            for name, g in generators.items()
        ],
    }
    torch.set_num_threads(thread_counts[0])
    if "realtime" in generators:  # a stream has neither the whole clip's statistics nor its ranking
        streamable = (
            Generator(GeneratorConfig.realtime(norm="bn", mask="threshold", noise_channels=0)).eval().to(args.device)
        )
        result["streaming"] = stream(fuse(streamable), load_clips(1, device=args.device), args.chunk)
    if args.generator:
        result["success"] = success(args, model, generators)
    return result


def build_generators(args: argparse.Namespace, model: SERModel) -> dict[str, Generator]:
    """The trained generators named by ``--generator``, then a fresh one of every other ``--configs`` preset."""
    trained = dict(args.generator)
    generators = {name: Generator.from_pretrained(path) for name, path in trained.items()}
    for name in args.configs:
        if name not in generators:
            generators[name] = Generator.for_config(GeneratorConfig.preset(name), [model])
    for d in args.adjoint_draws:
        generators[f"adjoint×{d}"] = Generator.for_config(GeneratorConfig.adjoint(draws=d), [model])
    for n in args.guided_stages:
        generators[f"guided, {n} stages"] = Generator.for_config(GeneratorConfig.guided(stages=n), [model])
    return {name: g.eval().to(args.device) for name, g in generators.items()}


def timed_cell(
    args: argparse.Namespace, model: SERModel, generators: dict[str, Generator], batch: int, threads: int
) -> dict[str, Any]:
    """Seconds per clip of every contender at one batch size and thread count, and PGD/generator ratios."""
    torch.set_num_threads(threads)
    x = load_clips(batch, device=args.device)
    labels = model(x).argmax(-1)
    budget = {"eps": args.eps, "k_percent": args.k_percent, "early_stop": False, "seed": args.seed}  # 20 steps each
    pgd, pgd0 = SparsePGD(model, **budget), PGD0(model, **budget)
    contenders: dict[str, Callable[[], object]] = {
        "sparse PGD-20": lambda: pgd.perturb(x, labels),
        "PGD0-20": lambda: pgd0.perturb(x, labels),
    }
    for name, g in generators.items():
        contenders[name] = _inference(fuse(g), x, args.eps)
    per_clip = {name: s / batch for name, s in interleaved(contenders, args.repeats, args.device).items()}
    ratios = {name: {b: per_clip[b] / per_clip[name] for b in BASELINES} for name in generators}
    print(report_cell(batch, threads, per_clip, ratios), flush=True)
    return {"batch": batch, "threads": threads, "budget": budget, "seconds_per_example": per_clip, "ratios": ratios}


def _inference(generator: Generator, x: torch.Tensor, eps: float) -> Callable[[], object]:
    def call() -> object:
        with torch.no_grad():
            return generator(x, eps=eps)

    return call


def success(args: argparse.Namespace, model: SERModel, generators: dict[str, Generator]) -> list[dict[str, Any]]:
    """ASR (95 % interval over the clips), sparsity and median SNR of each trained generator on a corpus split,
    under the budget it was trained with (absolute ε or relative ``eps_db``)."""
    corpus = prepare(build_corpus(args.corpus, args.root), args.cache, show_progress=False)
    split = corpus.split(args.split)
    waves = torch.from_numpy(np.array(split.waves, dtype=np.float32))
    rows = []
    for name, path in args.generator:
        attack = STAANet(model, generators[name])
        results = [attack(waves[i : i + 16].to(args.device)) for i in range(0, len(waves), 16)]
        clean = torch.cat([r.clean_pred for r in results])
        adv = torch.cat([r.adv_pred for r in results])
        interval = asr_interval(clean.numpy(), adv.numpy())
        rows.append(
            {
                "generator": name,
                "checkpoint": str(path),
                "clips": len(waves),
                "asr": interval.value,
                "asr_interval": [interval.low, interval.high],
                "sparsity_pct": float(torch.cat([r.sparsity for r in results]).mean()),
                "median_snr_db": median_snr(torch.cat([r.snr_db for r in results])),
            }
        )
        r = rows[-1]
        print(f"{name}: ASR {100 * r['asr']:.1f} % [{100 * interval.low:.1f}, {100 * interval.high:.1f}] on "
              f"{r['clips']} {args.corpus} {args.split} clips, sparsity {r['sparsity_pct']:.2f} %, "
              f"median SNR {r['median_snr_db']:.1f} dB", flush=True)  # fmt: skip
    return rows


def stream(generator: Generator, x: torch.Tensor, chunk_seconds: float) -> dict[str, Any]:
    """Real-time factor of chunked streaming and its largest deviation from the offline result."""
    streamer = StreamingGenerator(generator)
    online = streamer.run(x, int(chunk_seconds * SAMPLE_RATE))
    with torch.no_grad():
        offline = generator(x).x_adv
    return {
        "chunk_seconds": chunk_seconds,
        "block_samples": streamer.block,
        "latency_ms": 1000 * streamer.latency_samples / SAMPLE_RATE,
        "real_time_factor": streamer.real_time_factor,
        "max_abs_difference_from_offline": float((online - offline).abs().max()),
    }


def named_path(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or name not in GeneratorConfig.PRESETS:
        raise argparse.ArgumentTypeError(f"expected PRESET=DIR with PRESET one of {GeneratorConfig.PRESETS}")
    return name, Path(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    presets = list(GeneratorConfig.PRESETS)
    parser.add_argument("--configs", nargs="+", default=presets, choices=presets)
    parser.add_argument("--adjoint-draws", nargs="*", type=int, default=[], help="also adjoint×D rows")
    parser.add_argument("--guided-stages", nargs="*", type=int, default=[], help="also guided rows of S stages")
    parser.add_argument(
        "--threat",
        default="emo18",
        choices=("emo18", "wav2vec2-base"),
        help="the untrained threat model timed when no --threat-checkpoint is given",
    )
    parser.add_argument("--batches", nargs="+", type=int, default=[1])
    parser.add_argument("--thread-counts", nargs="+", type=int, default=None, help="default: --threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=float, default=0.1, help="streaming chunk in seconds")
    parser.add_argument("--threat-checkpoint", type=Path, help="a trained SER model folder")
    parser.add_argument("--generator", type=named_path, action="append", default=[], help="PRESET=DIR, trained")
    parser.add_argument("--corpus", default="emodb", help="where the trained generators' ASR is measured")
    parser.add_argument("--root", type=Path, help="the corpus's folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--cache", type=Path, default=Path("runs/cache"))


def threat_model(name: str) -> SERModel:
    """Emo18 (the paper's default), or wav2vec 2.0 base built from its config: random weights time as
    trained ones, and no hub is needed. Against a foundation model the adjoint generator runs only its
    convolutional feature encoder, the transformer never."""
    if name == "emo18":
        return Emo18()
    return build_model("wav2vec2", num_classes=4, encoder=Wav2Vec2Config().to_dict())


def report_cell(batch: int, threads: int, per_clip: dict[str, float], ratios: dict[str, dict[str, float]]) -> str:
    lines = [f"batch {batch}, {threads} thread(s), {SAMPLES}-sample clips: "
             + ", ".join(f"{b} {per_clip[b]:.3f} s/clip" for b in BASELINES)]  # fmt: skip
    width = max(12, *map(len, ratios))  # "guided, 2 stages" and the like
    lines.append(f"  {'generator':<{width}} {'ms/clip':>9} {'PGD-20/gen':>11} {'PGD0-20/gen':>12}")
    for name, r in ratios.items():
        lines.append(
            f"  {name:<{width}} {1000 * per_clip[name]:>9.1f} {r['sparse PGD-20']:>10.1f}x {r['PGD0-20']:>11.1f}x"
        )
    return "\n".join(lines)


def report(result: dict[str, Any]) -> str:
    """The streaming line (the cells and the success rows are printed as they are measured)."""
    if "streaming" not in result:
        return ""
    s = result["streaming"]
    return (
        f"streaming (realtime, norm bn, threshold mask, {s['chunk_seconds']:g} s chunks): real-time factor "
        f"{s['real_time_factor']:.4f}, latency {s['latency_ms']:.0f} ms, max |online − offline| "
        f"{s['max_abs_difference_from_offline']:.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_arguments(parser)
    add_arguments(parser)
    args = parser.parse_args()
    allocator.keep_freed_memory()  # as every staa command does: freed activations stay in the process
    if args.generator and (args.threat_checkpoint is None or args.root is None):
        parser.error("--generator needs --threat-checkpoint (the model it was trained against) and --root")
    print(report(run(args)))


if __name__ == "__main__":
    main()
