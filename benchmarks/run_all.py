"""The whole performance suite in one command (``make bench``): ratios measured side by side in one run.

1. STAA-Net crafting: generator ms per 6 s clip per configuration (as trained and fused), against
   sparse PGD-20 on the same clip and threat model, timed interleaved (benchmarks/generator_speed.py),
   and the real-time configuration streamed in chunks (real-time factor, deviation from offline).
2. Baselines: SparseFool, One-Pixel and the state-of-the-art sparse attacks (PGD₀, Sparse-RS, σ-zero,
   FMN-L0) seconds per clip against Emo18, beside PGD-20 (benchmarks/baselines.py).
   One-Pixel runs the paper's population for ``--onepixel-iterations`` generations (default: the
   initial population only) and its full-budget time is projected from the measured time per query.
3. Training: clips per second and peak resident memory of generator training at batch 8, one
   subprocess per configuration so each peak is its own (benchmarks/training.py).

Results go to ``runs/benchmarks/all.json`` with the machine's provenance, and a Markdown table (the one
docs/results/speed.md quotes) is printed. The default run takes a few minutes on 2 CPU cores;
``--device cuda`` runs the same suite on a GPU.

    python benchmarks/run_all.py [--device cpu] [--threads 1] [--train-configs fast realtime authors]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import baselines
import generator_speed
import torch
from common import add_shared_arguments, markdown

from staa.attacks.staa import GeneratorConfig
from staa.io.outputs import write_json
from staa.runtime.reproducibility import provenance

HERE = Path(__file__).resolve().parent


def train(config: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run benchmarks/training.py for one configuration in its own process and read its JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "training.json"
        command = [
            sys.executable, str(HERE / "training.py"), "--config", config, "--batch", str(args.train_batch),
            "--steps", str(args.train_steps), "--device", args.device, "--threads", str(args.threads), "--json", str(out),
        ]  # fmt: skip
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def table(result: dict[str, Any]) -> str:
    """The results table (docs/results/speed.md): one row per measured quantity, what it is compared with."""
    speed, base = result["generator_speed"], result["baselines"]
    rows: list[list[object]] = []
    for g in speed["generators"]:
        rows.append(
            [
                f"STAA-Net generator `{g['config']}` ({g['parameters'] / 1e6:.2f} M params), fused",
                f"{g['ms_per_example_fused']:.1f} ms/clip",
                f"{g['pgd20_over_fused']:.0f}x faster than sparse PGD-20 ({speed['pgd20_seconds_per_example']:.2f} s/clip)",
            ]
        )
    if "streaming" in speed:
        s = speed["streaming"]
        rows.append(
            [
                f"streaming `realtime` (norm bn, threshold mask), {s['chunk_seconds']:g} s chunks",
                f"real-time factor {s['real_time_factor']:.4f}",
                f"latency {s['latency_ms']:.0f} ms; max deviation from offline {s['max_abs_difference_from_offline']:.1e}",
            ]
        )
    dense = next(r for r in base["rows"] if r["attack"] == "dense PGD-20")["seconds_per_example"]
    for r in base["rows"]:
        if r["family"] == "pgd":
            continue
        note = (
            f"{r['seconds_per_example'] / dense:.1f}x dense PGD-20, {r['queries_per_example']:.0f} forward passes/clip"
        )
        if "projected_seconds_at_paper_budget" in r and r["queries_per_example"] < 300 * 21:
            note += f"; paper budget (6 300 queries) projected {r['projected_seconds_at_paper_budget']:.0f} s/clip"
        if "projected_seconds_at_full_budget" in r and r["queries_per_example"] < baselines.SPARSE_RS_FULL_BUDGET:
            note += f"; authors' budget (10 000 queries) projected {r['projected_seconds_at_full_budget']:.0f} s/clip"
        rows.append([r["attack"], f"{r['seconds_per_example']:.2f} s/clip", note])
    for t in result["training"]:
        rows.append(
            [
                f"training `{t['config']}`, batch {t['batch']}",
                f"{t['clips_per_second']:.2f} clips/s",
                f"peak RSS {t['peak_rss_gib']:.2f} GiB",
            ]
        )
    return markdown(["measurement", "value", "compared in the same run"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_arguments(parser)
    parser.add_argument(
        "--train-configs", nargs="*", default=["fast", "realtime"], choices=list(GeneratorConfig.PRESETS)
    )
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--train-steps", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks/all.json"))
    generator_speed.add_arguments(parser)
    baselines.add_arguments(parser)
    parser.set_defaults(examples=1, onepixel_iterations=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    print("== STAA-Net generator vs sparse PGD-20", flush=True)
    speed = generator_speed.run(args)
    print(generator_speed.report(speed), flush=True)
    print("\n== baselines", flush=True)
    base = baselines.run(args)
    print(baselines.report(base), flush=True)
    print("\n== generator training", flush=True)
    training = []
    for config in args.train_configs:
        training.append(train(config, args))
        print(json.dumps(training[-1]), flush=True)

    result = {"generator_speed": speed, "baselines": base, "training": training}
    result["seconds"] = time.perf_counter() - start
    config = {**vars(args), "out": str(args.out), "threads": torch.get_num_threads()}
    write_json(args.out, {**result, "provenance": provenance(config, args.seed)})
    print(f"\n{table(result)}\n\nsaved {args.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
