"""CPU threads of SER training: one Emo18 epoch on the EmoDB subset with 1 or 2 threads, alone or beside
another training of the same kind.

Each measurement is a separate process running ``train_ser`` for one epoch on T threads
(:func:`staa.runtime.threads.torch_threads`, what ``staa --threads T`` applies); "pair" starts two such processes at the same moment, as two users of
a shared machine would. Scenarios are interleaved repeat by repeat so that the machine's other load hits
them alike, and the median over repeats is printed: seconds per epoch and clips per second per process,
and the machine's total (clips per second summed over the processes running together).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/threads.py --out runs/threads [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from staa.data.cache import PreparedCorpus, prepare
from staa.data.registry import build_corpus
from staa.models import build_model
from staa.runtime.reproducibility import seed_everything
from staa.runtime.threads import torch_threads
from staa.training.ser import TrainConfig, train_ser

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "emodb-subset"
SCENARIOS = (("alone", 1, 1), ("alone", 2, 1), ("pair", 1, 2), ("pair", 2, 2))  # (name, threads, processes)


def worker(corpus: str, threads: int) -> None:
    """One Emo18 epoch (81 clips of 2 s on the subset); prints its seconds and clips per second."""
    pc = PreparedCorpus.load(corpus)
    seed_everything(0)
    model = build_model("emo18", num_classes=len(pc.classes))
    with tempfile.TemporaryDirectory() as out, torch_threads(threads):
        h = train_ser(model, pc, out, TrainConfig(epochs=1), show_progress=False)["history"][0]
    print(json.dumps({"seconds": h["seconds"], "clips_per_second": h["clips_per_second"]}))


def measure(corpus: Path, threads: int, processes: int) -> list[dict]:
    """Start ``processes`` workers together; their results once all have finished."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, __file__, "--worker", str(corpus), "--threads", str(threads)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) for _ in range(processes)]
    return [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="cache folder for the prepared subset")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.threads)
        return
    if args.out is None:
        parser.error("--out is required")
    pc = prepare(build_corpus("emodb", DATA), args.out / "cache", show_progress=False)
    results: dict[tuple, list[dict]] = {s: [] for s in SCENARIOS}
    for _ in range(args.repeats):
        for scenario in SCENARIOS:
            results[scenario] += measure(pc.path, scenario[1], scenario[2])
    print(
        f"Emo18, one epoch of {len(pc.split('train'))} EmoDB clips (2.0 s), {os.cpu_count()} CPUs, "
        f"median of {args.repeats} repeats\n"
    )
    print("| scenario | threads per process | s per epoch | clips/s per process | clips/s machine total |")
    print("|---|---|---|---|---|")
    for (name, threads, processes), runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        rate = statistics.median(r["clips_per_second"] for r in runs)
        print(f"| {name} | {threads} | {seconds:.1f} | {rate:.1f} | {rate * processes:.1f} |")


if __name__ == "__main__":
    main()
