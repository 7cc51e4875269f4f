"""The generator's learning curve: what does more training speech buy an untargeted STAA-Net generator?

The adjoint generator (top-k mask, k 10 %, relative ε) is trained against one frozen threat model on three
growing amounts of speech — A: the threat corpus's training split; B: A and a second corpus; C: B and a third
(``--amount NAME=SOURCE,SOURCE,...``, sources as ``staa generator train --data`` reads them, ``train`` for the
corpus's own split) — from several seeds each, all for the same number of steps, so that the curve isolates the
data from the compute. Every run is validated on the corpus's validation split and scored on its test clips:
ASR (:func:`staa.metrics.succeeded`) with a 95 % bootstrap interval over the clips, the mean ± sd over seeds,
sparsity and median SNR. Runs already finished are reused, unfinished ones resume (``<out>/<amount>/seed<k>/``).
``--untrained`` adds the generator before its first step as a row and a line: what training adds to it.

    python research/learning_curve.py --threat runs/emodb-full/models/emo18/best --root /data/emodb/wav \\
        --cache runs/curve/cache --out runs/curve --amount A=train --amount B=train,ravdess:/data/ravdess \\
        --amount C=train,ravdess:/data/ravdess,nemo:/data/nemo --seeds 0 1 2 --steps 400 \\
        --reference 'PGD-20=0.708' --reference 'shipped generator, 400 steps=0.542' \\
        --figure docs/results/figures/generator-learning-curve.png
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from staa.attacks.staa import Generator, GeneratorConfig, STAANet, STAATrainConfig
from staa.data.cache import PreparedCorpus, prepare
from staa.data.registry import build_corpus
from staa.data.speech import parse_sources, pooled_speech
from staa.metrics import median_snr
from staa.models import load_model
from staa.training.generator import train_staa_generator
from staa.uncertainty import asr_interval, spread

#: The shipped emodb experiment's augmentation of the generator's training clips (1 s crops).
AUGMENT = {"speed": 0.1, "gain_db": 6.0, "noise_prob": 0.5, "snr_db": [20.0, 40.0], "crop_seconds": 1.0}
#: Its schedule at 400 steps: dense start and annealing, scaled with the step count.
SCHEDULE = {"steps": 400, "dense_steps": 100, "anneal_steps": 150}
SCORE_FILE = "score.json"


def train_config(steps: int, seed: int, eval_every: int = 50, **overrides: Any) -> STAATrainConfig:
    """The ``topk`` recipe of the shipped emodb experiment at ``steps``, its dense and annealing steps scaled;
    ``overrides`` (``--train``) change any other setting of it."""
    scale = steps / SCHEDULE["steps"]
    return STAATrainConfig.preset("topk", **{"steps": steps, "dense_steps": round(SCHEDULE["dense_steps"] * scale),
                                  "anneal_steps": round(SCHEDULE["anneal_steps"] * scale), "eval_every": eval_every,
                                  "augment": dict(AUGMENT), "seed": seed, **overrides})  # fmt: skip


def parse_amount(value: str) -> tuple[str, list[str]]:
    """``NAME=SOURCE,SOURCE,...`` → (name, sources); ``NAME=train`` is the corpus's own training split."""
    name, sep, sources = value.partition("=")
    if not sep or not name or not sources:
        raise argparse.ArgumentTypeError(f"--amount {value!r}: expected NAME=SOURCE[,SOURCE...]")
    return name, sources.split(",")


def training_speech(sources: list[str], base: PreparedCorpus, cache: Path) -> PreparedCorpus:
    """``base`` itself for its own training split alone, else the sources pooled beside its cache."""
    return base if sources == ["train"] else pooled_speech(parse_sources(sources), base, cache, show_progress=False)


def score(threat: Any, generator: Generator, corpus: PreparedCorpus, split: str = "test") -> dict[str, Any]:
    """``generator`` on every clip of ``split``: predictions, success, sparsity, SNR."""
    test = corpus.split(split)
    x = torch.from_numpy(np.array(test.waves, dtype=np.float32))
    out = STAANet(threat, generator)(x)
    return {"clean_pred": out.clean_pred.tolist(), "adv_pred": out.adv_pred.tolist(),
            "success": out.success.tolist(), "sparsity_pct": out.sparsity.tolist(),
            "snr_db": [float(v) for v in out.snr_db], "clips": len(test)}  # fmt: skip


def untrained(args: argparse.Namespace, threat: Any, base: PreparedCorpus) -> dict[str, Any]:
    """The ``--arch`` generator before its first step (initial weights of seed 0), scored once: the curve's zero.

    Why: it says what training adds. The guided generator's correction starts at zero, so untrained it is one
    exact sparse gradient step of the threat, the one-step attack its training starts from.
    """
    path = args.out / "untrained" / SCORE_FILE
    if not path.exists():
        torch.manual_seed(0)
        gen_cfg = GeneratorConfig.preset(args.arch, eps_db=args.eps_db, k_percent=args.k_percent)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(score(threat, Generator.for_config(gen_cfg, [threat]).eval(), base)))
    record = json.loads(path.read_text())
    return {"amount": "untrained", "clips": 0, "speakers": 0, "seed": "–", **summary(record),
            "test_clips": record["clips"], "val_asr": None}  # fmt: skip


def summary(record: dict[str, Any]) -> dict[str, float]:
    """ASR with its 95 % interval, mean sparsity and median SNR of one scored run."""
    ci = asr_interval(record["clean_pred"], record["adv_pred"])
    snr = median_snr(torch.tensor(record["snr_db"], dtype=torch.float64))
    return {"asr": ci.value, "low": ci.low, "high": ci.high, "sparsity_pct": float(np.mean(record["sparsity_pct"])),
            "snr_db": float("nan") if snr is None else snr}  # fmt: skip


def run_one(args: argparse.Namespace, threat: Any, base: PreparedCorpus, name: str, sources: list[str],
            seed: int) -> dict[str, Any] | None:  # fmt: skip
    """Train (or reuse) one generator and score it (or reuse its score); its row of the table.

    With ``--no-train`` a run that has not finished is left out (None): the table of what exists so far.
    """
    out = args.out / name / f"seed{seed}"
    if args.no_train and not (out / "train.json").exists():
        return None
    speech = training_speech(sources, base, args.cache)
    gen_cfg = GeneratorConfig.preset(args.arch, eps_db=args.eps_db, k_percent=args.k_percent)
    train_staa_generator(
        gen_cfg,
        train_config(args.steps, seed, args.eval_every, **args.train),
        [threat],
        speech,
        out,
        show_progress=False,
    )
    path = out / SCORE_FILE
    if not path.exists():
        path.write_text(json.dumps(score(threat, Generator.from_pretrained(out / "best"), base)))
    record = json.loads(path.read_text())
    best = json.loads((out / "train.json").read_text())["best"]
    return {"amount": name, "clips": len(speech.split("train")), "speakers": source_speakers(sources, base), "seed": seed,
            **summary(record), "test_clips": record["clips"], "val_asr": best["val_asr"]}  # fmt: skip


def table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: one row per run (its last column the validation ASR of the checkpoint kept), then mean ± sd
    over the seeds of each amount."""
    lines = [
        "| amount | clips | speakers | seed | ASR % (95 % CI) | sparsity % | median SNR dB | val ASR % |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        val = "–" if r["val_asr"] is None else f"{100 * r['val_asr']:.1f}"  # an untrained generator was never validated
        lines.append(f"| {r['amount']} | {r['clips']} | {r['speakers']} | {r['seed']} | {100 * r['asr']:.1f} "
                     f"({100 * r['low']:.1f}–{100 * r['high']:.1f}) | {r['sparsity_pct']:.1f} | {r['snr_db']:.1f} | "
                     f"{val} |")  # fmt: skip
    for name in dict.fromkeys(r["amount"] for r in rows):
        group = [r for r in rows if r["amount"] == name]
        s = spread([100 * r["asr"] for r in group])
        asr = f"{s.mean:.1f} ± {s.sd:.1f}" if s.n > 1 else f"{s.mean:.1f}"
        lines.append(f"| **{name}** | {group[0]['clips']} | {group[0]['speakers']} | mean of {s.n} | **{asr}** | | | |")
    return "\n".join(lines)


def references(values: Sequence[str]) -> list[tuple[str, float]]:
    """``LABEL=ASR`` pairs (ASR as a share, 0–1) of the horizontal reference lines."""
    pairs = [v.rpartition("=") for v in values]
    return [(label, float(asr)) for label, _, asr in pairs]


def plot(rows: Sequence[dict[str, Any]], refs: Sequence[tuple[str, float]], path: Path) -> None:
    """ASR against training clips (log x): one dot per seed, the mean over seeds joined, references as lines."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), constrained_layout=True)
    names = list(dict.fromkeys(r["amount"] for r in rows))
    clips = [next(r["clips"] for r in rows if r["amount"] == n) for n in names]
    means = [spread([100 * r["asr"] for r in rows if r["amount"] == n]).mean for n in names]
    ax.scatter([r["clips"] for r in rows], [100 * r["asr"] for r in rows], s=18, color="tab:blue", alpha=0.6,
               label="one seed")  # fmt: skip
    ax.plot(clips, means, "o-", color="tab:blue", markersize=7, label="mean over seeds")
    for name, x, y in zip(names, clips, means, strict=True):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 6))
    for (label, asr), style in zip(refs, ("--", ":", "-."), strict=False):
        ax.axhline(100 * asr, color="grey", linestyle=style, linewidth=1, label=label)
    ax.set_xscale("log")
    ax.set_xticks(clips, [str(c) for c in clips])
    ax.minorticks_off()
    ax.set_xlabel("training clips (log scale)")
    ax.set_ylabel(f"ASR % ({rows[0]['test_clips']} test clips)")
    ax.margins(x=0.08, y=0.15)
    ax.legend(fontsize=8, loc="best")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def active_share(waves: np.ndarray, frame: int = 400, floor_db: float = 40.0, head: int | None = None) -> np.ndarray:
    """Per clip, the share of its frames (``frame`` samples; the first ``head`` frames only, if given) whose RMS
    is within ``floor_db`` of the clip's peak: how much of what the generator trains on is speech, not silence."""
    x = np.asarray(waves, dtype=np.float64)
    frames = x[:, : x.shape[1] // frame * frame].reshape(len(x), -1, frame)[:, :head]
    rms = np.sqrt((frames**2).mean(-1))
    floor = np.abs(x).max(1, keepdims=True) * 10 ** (-floor_db / 20)
    return (rms > floor).mean(1)


def activity(speech: PreparedCorpus) -> str:
    """Markdown: per source of ``speech``'s training clips, the median peak and active shares (whole, first 0.5 s)."""
    train = speech.split("train")
    sources = np.array([str(it.get("source", "train")) for it in train.items])
    head = speech.sample_rate // 2 // 400
    lines = [
        "| source | clips | peak median | active frames, median | in the first 0.5 s |",
        "|---|---:|---:|---:|---:|",
    ]
    for source in dict.fromkeys(sources):
        waves = np.asarray(train.waves)[sources == source]
        peak, whole, start = np.abs(waves).max(1), active_share(waves), active_share(waves, head=head)
        lines.append(
            f"| {source} | {len(waves)} | {np.median(peak):.3f} | {np.median(whole):.2f} | {np.median(start):.2f} |"
        )
    return "\n".join(lines)


def source_speakers(sources: list[str], base: PreparedCorpus) -> int:
    """Distinct speakers of the sources: the corpus's own training split and every named corpus's items."""
    speakers: set[tuple[str, str]] = set()
    for source in parse_sources(sources):
        if source.kind == "train":
            speakers |= {(base.name, str(it["speaker"])) for it in base.split("train").items}
        elif source.kind == "corpus":
            items = build_corpus(source.corpus, source.path).items()
            speakers |= {(source.corpus, it.speaker) for it in items if it.split in source.splits}
    return len(speakers)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threat", type=Path, required=True, help="the frozen threat model's checkpoint folder")
    p.add_argument("--corpus", default="emodb", help="the threat's corpus (its val split validates, test scores)")
    p.add_argument("--root", type=Path, required=True, help="the corpus's folder")
    p.add_argument("--cache", type=Path, required=True, help="folder of prepared corpora and pooled speech")
    p.add_argument("--out", type=Path, required=True, help="generators go to OUT/<amount>/seed<k>/")
    p.add_argument("--amount", type=parse_amount, action="append", required=True, help="NAME=SOURCE[,SOURCE...]")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=400, help="the same for every amount")
    p.add_argument("--eval-every", type=int, default=50, help="steps between validations (each costs a pass over val)")
    p.add_argument(
        "--train", type=json.loads, default={}, help='JSON of training settings over the recipe: {"focus": 1.0}'
    )
    p.add_argument("--arch", default="adjoint", help="generator preset (adjoint, fast, authors)")
    p.add_argument("--eps-db", type=float, default=26.0)
    p.add_argument("--k-percent", type=float, default=10.0)
    p.add_argument("--order", choices=("seed", "amount"), default="seed",
                   help="seed: every amount at seed 0 first, so an early stop leaves a whole curve")  # fmt: skip
    p.add_argument("--reference", action="append", default=[], help="LABEL=ASR (0–1): a horizontal line")
    p.add_argument("--figure", type=Path, help="PNG of ASR versus training clips")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-train", action="store_true", help="score and tabulate the finished runs only")
    p.add_argument("--untrained", action="store_true",
                   help="also score the generator before training (the guided one: one exact gradient step)")  # fmt: skip
    p.add_argument("--activity", action="store_true", help="speech against silence per source of the last amount")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    threat = load_model(args.threat).eval()
    base = prepare(build_corpus(args.corpus, args.root), args.cache, show_progress=False)
    threat.check_fits(base.classes, base.sample_rate, args.threat, length=base.length)
    runs = [(name, sources, seed) for name, sources in args.amount for seed in args.seeds]
    if args.order == "seed":
        runs.sort(key=lambda r: r[2])
    rows = [untrained(args, threat, base)] if args.untrained else []
    for name, sources, seed in runs:
        row = run_one(args, threat, base, name, sources, seed)
        if row is not None:
            print(json.dumps(row), flush=True)
            rows.append(row)
    order = ["untrained", *(a for a, _ in args.amount)]
    rows.sort(key=lambda r: (order.index(r["amount"]), -1 if r["amount"] == "untrained" else r["seed"]))
    print(table(rows))
    if args.activity:
        print(activity(training_speech(args.amount[-1][1], base, args.cache)))
    trained = [r for r in rows if r["amount"] != "untrained"]
    if args.figure and trained:
        refs = [(f"untrained ({args.arch})", rows[0]["asr"])] if args.untrained else []
        plot(trained, [*refs, *references(args.reference)], args.figure)


if __name__ == "__main__":
    main()
