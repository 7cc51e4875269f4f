"""STAA-Net crafting speed: generator ms per 6 s clip for each configuration, against sparse PGD-20.

Every generator configuration and sparse PGD-20 (same ε, same clip, same Emo18) are timed interleaved,
repeat by repeat, in this one process at batch 1 (eval mode, no gradients for the generators, the
full 20 steps for PGD: no early stop, so the cost does not depend on how easily the clip is fooled).
Each generator runs as trained and as its fused inference copy (:mod:`staa.attacks.staa.fused`).
The ratio PGD-20 / generator is the paper's speed claim measured on this machine. The real-time
configuration (its batch-norm, threshold-mask variant: GroupNorm and a top-k mask need the whole clip) is also streamed in 0.1 s chunks, reporting its real-time factor and the largest
difference from the offline pass.

    python benchmarks/generator_speed.py [--device cpu] [--threads 1] [--repeats 3] [--configs authors fast realtime adjoint]
        [--adjoint-draws 4] [--threat emo18|wav2vec2-base]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch
from common import SAMPLES, add_shared_arguments, interleaved, load_clips
from transformers import Wav2Vec2Config

from staa.attacks.pgd import SparsePGD
from staa.attacks.staa import Generator, GeneratorConfig
from staa.attacks.staa.fused import fuse
from staa.attacks.staa.streaming import StreamingGenerator
from staa.audio import SAMPLE_RATE
from staa.models import Emo18, SERModel, build_model


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    x = load_clips(1, device=args.device)
    model = threat_model(args.threat).eval().to(args.device)
    pgd = SparsePGD(model, args.eps, k_percent=args.k_percent, early_stop=False, seed=args.seed)
    labels = model(x).argmax(-1)
    # the adjoint preset carries this Emo18's front end
    configs = {name: GeneratorConfig.preset(name) for name in args.configs}
    configs.update({f"adjoint×{d}": GeneratorConfig.adjoint(draws=d) for d in args.adjoint_draws})
    generators = {
        name: Generator.for_config(config, [model]).eval().to(args.device) for name, config in configs.items()
    }
    contenders: dict[str, Callable[[], object]] = {"sparse PGD-20": lambda: pgd.perturb(x, labels)}
    for name, g in generators.items():
        contenders[name] = _inference(g, x)
        contenders[f"{name} fused"] = _inference(fuse(g), x)
    seconds = interleaved(contenders, args.repeats, args.device)
    pgd_s = seconds.pop("sparse PGD-20")
    rows = [
        {
            "config": name,
            "parameters": g.num_parameters(),
            "ms_per_example": 1000 * seconds[name],
            "ms_per_example_fused": 1000 * seconds[f"{name} fused"],
            "pgd20_over_generator": pgd_s / seconds[name],
            "pgd20_over_fused": pgd_s / seconds[f"{name} fused"],
        }
        for name, g in generators.items()
    ]
    result: dict[str, Any] = {"pgd20_seconds_per_example": pgd_s, "generators": rows}
    if "realtime" in generators:  # a stream has neither the whole clip's statistics nor its ranking: the
        # streaming variant has batch norm, the per-sample threshold mask and no carrier
        streamable = (
            Generator(GeneratorConfig.realtime(norm="bn", mask="threshold", noise_channels=0)).eval().to(args.device)
        )
        result["streaming"] = stream(fuse(streamable), x, args.chunk)
    return result


def _inference(generator: Generator, x: torch.Tensor) -> Callable[[], object]:
    def call() -> object:
        with torch.no_grad():
            return generator(x)

    return call


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--configs", nargs="+", default=list(GeneratorConfig.PRESETS), choices=list(GeneratorConfig.PRESETS)
    )
    parser.add_argument(
        "--adjoint-draws",
        nargs="*",
        type=int,
        default=[],
        help="also the adjoint generator with these draws (rows adjoint×D)",
    )
    parser.add_argument(
        "--threat",
        default="emo18",
        choices=("emo18", "wav2vec2-base"),
        help="the threat model PGD attacks and the adjoint generator takes its front end from",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=float, default=0.1, help="streaming chunk in seconds")


def threat_model(name: str) -> SERModel:
    """Emo18 (the paper's default), or wav2vec 2.0 base built from its config: random weights time as
    trained ones, and no hub is needed. Against a foundation model the adjoint generator runs only its
    convolutional feature encoder, the transformer never."""
    if name == "emo18":
        return Emo18()
    return build_model("wav2vec2", num_classes=4, encoder=Wav2Vec2Config().to_dict())


def report(result: dict[str, Any]) -> str:
    lines = [f"sparse PGD-20: {result['pgd20_seconds_per_example']:.3f} s per {SAMPLES}-sample clip"]
    lines.append(f"{'config':<12} {'parameters':>12} {'ms/clip':>9} {'fused':>9} {'PGD-20/STAA':>12} {'fused':>8}")
    for r in result["generators"]:
        lines.append(
            f"{r['config']:<12} {r['parameters']:>12,d} {r['ms_per_example']:>9.1f} {r['ms_per_example_fused']:>9.1f} "
            f"{r['pgd20_over_generator']:>11.1f}x {r['pgd20_over_fused']:>7.1f}x"
        )
    if "streaming" in result:
        s = result["streaming"]
        lines.append(
            f"streaming (realtime, norm bn, threshold mask, {s['chunk_seconds']:g} s chunks): real-time factor {s['real_time_factor']:.4f}, "
            f"latency {s['latency_ms']:.0f} ms, max |online − offline| {s['max_abs_difference_from_offline']:.2e}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_arguments(parser)
    add_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(report(run(args)))


if __name__ == "__main__":
    main()
