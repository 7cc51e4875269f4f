"""SER training recipes compared on the real subsets: test UAR of today's (paper) and the small-corpus recipe.

"Today's" recipe is what the shipped ``emodb`` experiment trained its models with before the small-corpus
recipe existed: the paper's (Adam, lr 1e-3, batch 8, plain shuffled clips) for 20 epochs.

For every corpus × model × recipe × seed the script trains (resuming what a killed run left), evaluates
the selected checkpoint (``best/``, chosen on validation UAR) on val and test, and keeps the
predictions. It then prints, per run, val and test UAR with the 95 % bootstrap interval over the test
clips, and per corpus × model × recipe the mean ± sd over seeds with the interval of that mean (the
same clip redraws applied to every seed's predictions). The last table is the comparison the recipe
must win: the gain in mean test UAR over today's recipe, the paired interval of that gain, and
whether the gain exceeds the half-width of today's own interval. ``--baseline NAME`` compares against another
finished variant instead (its folder under the same corpus and model, e.g. ``small_corpus``, the shipped
recipe of the ravdess and nemo experiments), read from the ``eval.json`` of the same seeds.

    OMP_NUM_THREADS=1 PYTHONPATH=src python research/ser_recipe.py --out runs/ser-recipe

Corpora default to ../shared/data/{emodb,ravdess}-subset; runs go one after another, on ``--threads``
threads (default :data:`staa.runtime.threads.DEFAULT_THREADS`). ``--set key=value`` changes a setting of the
small-corpus recipe, or of the paper's (``--recipes paper``: today's recipe open to changes), values parsed
as JSON, e.g. ``--set epochs=40 --set augment.mix_prob=0``, or ``--set init_from='"runs/pretrain/best"'``
to fine-tune a model pre-trained by ``staa ser pretrain`` (``--frozen-front-end``: its convolutional front end
kept, the recurrent head alone trained); ``--tag`` names that variant's folder,
so variants can be compared on the same splits.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from staa.data.cache import PreparedCorpus, prepare
from staa.data.registry import build_corpus
from staa.io.outputs import write_json
from staa.models import build_model, load_model
from staa.models.registry import model_class
from staa.runtime.reproducibility import provenance, seed_everything
from staa.runtime.threads import DEFAULT_THREADS, torch_threads
from staa.training.ser import TrainConfig, predict_split, train_ser
from staa.uncertainty import Bootstrap, Interval, spread

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TODAY_EPOCHS = 20  # the shipped emodb experiment's models before the small-corpus recipe
CORPORA = {"emodb": DATA / "emodb-subset", "ravdess": DATA / "ravdess-subset"}
FULL_ONLY = ("nemo",)  # no subset in ../shared: give --root nemo=<folder>


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``a=1``, ``augment.mix_prob=0`` → nested overrides of the small-corpus recipe."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = json.loads(value)
    return out


def recipe_config(recipe: str, model: str, seed: int, overrides: dict[str, Any]) -> TrainConfig:
    """Today's recipe; or the paper's (today's 20 epochs) or the small-corpus one with ``overrides`` (a partial
    ``augment`` changes some strengths of the small-corpus recipe)."""
    if recipe == "today":
        return TrainConfig.paper(model_class(model), seed=seed, epochs=TODAY_EPOCHS)
    if recipe == "paper":
        return TrainConfig.paper(model_class(model), seed=seed, **{"epochs": TODAY_EPOCHS, **overrides})
    return TrainConfig.small_corpus(model_class(model), seed=seed, **overrides)


def freeze_front_end(net: torch.nn.Module) -> None:
    """Keep the convolutional front end (``net.cnn``) as it starts, weights and batch-norm statistics alike,
    so that fine-tuning from a pre-trained checkpoint trains the recurrent head only: fewer weights to fit
    to a few speakers."""
    for p in net.cnn.parameters():
        p.requires_grad_(False)
    train = net.train

    def head_only(mode: bool = True) -> torch.nn.Module:
        train(mode)
        net.cnn.eval()
        return net

    net.train = head_only


def run_one(
    pc: PreparedCorpus, model: str, cfg: TrainConfig, out: Path, frozen_front_end: bool = False
) -> dict[str, Any]:
    """Train (or resume), then predict val and test with the selected checkpoint; cached in eval.json."""
    done = out / "eval.json"
    if done.exists():
        return json.loads(done.read_text())
    seed_everything(cfg.seed)  # the initial weights too are fixed by the seed
    net = build_model(model, num_classes=len(pc.classes), class_names=pc.classes)
    if frozen_front_end:
        freeze_front_end(net)
    result = train_ser(net, pc, out, cfg, show_progress=False)
    best = load_model(out / "best")
    record = {
        "val_pred": predict_split(best, pc.split("val")).tolist(),
        "test_pred": predict_split(best, pc.split("test")).tolist(),
        "epochs_run": len(result["history"]),
        "seconds": float(sum(h["seconds"] for h in result["history"])),
        "clips_per_second": result["clips_per_second"],
        "train_config": result["train_config"],
        "provenance": provenance(seed=cfg.seed),
    }
    write_json(done, record)
    return record


def uar_of(b: Bootstrap, preds: list[list[int]], labels: np.ndarray, c: int) -> tuple[float, np.ndarray]:
    """Mean test UAR over seeds and its redraws (the same clip redraws for every seed)."""
    from staa.metrics import uar

    point = float(np.mean([uar(p, labels, c) for p in preds]))
    return point, np.mean([b.uar(p, labels, c) for p in preds], axis=0)


def pct(i: Interval) -> str:
    return f"{100 * i.value:5.1f} [{100 * i.low:4.1f}, {100 * i.high:4.1f}]"


def finished(out: Path, corpus: str, model: str, name: str, seeds: list[int]) -> list[dict] | None:
    """The saved records of a variant for every seed, or None when a seed has not finished."""
    files = [out / corpus / model / name / f"seed{seed}" / "eval.json" for seed in seeds]
    return [json.loads(f.read_text()) for f in files] if all(f.exists() for f in files) else None


def report(
    runs: dict[tuple[str, str, str], list[dict]], corpora: dict[str, PreparedCorpus], baseline: str = "today"
) -> None:
    print("\n| corpus | model | recipe | seed | epochs | clips/s | val UAR % | test UAR % [95 % CI] | test clips |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (corpus, model, recipe), records in runs.items():
        pc = corpora[corpus]
        val, test = pc.split("val").labels, pc.split("test").labels
        c = len(pc.classes)
        for r in records:
            b = Bootstrap(len(test), seed=0)
            t = b.interval(*uar_of(b, [r["test_pred"]], test, c))
            v = uar_of(Bootstrap(len(val)), [r["val_pred"]], val, c)[0]
            print(
                f"| {corpus} | {model} | {recipe} | {r['train_config']['seed']} | {r['epochs_run']} | "
                f"{r['clips_per_second']:.1f} | {100 * v:.1f} | {pct(t)} | {len(test)} |"
            )
    print(
        f"\n| corpus | model | recipe | seeds | val UAR % mean | test UAR % mean ± sd | CI of the mean | "
        f"Δ vs {baseline} [paired 95 % CI] | Δ > {baseline} half-width |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for (corpus, model, recipe), records in runs.items():
        pc = corpora[corpus]
        test, c = pc.split("test").labels, len(pc.classes)
        val_labels = pc.split("val").labels
        val = uar_of(Bootstrap(len(val_labels)), [r["val_pred"] for r in records], val_labels, c)[0]
        b = Bootstrap(len(test), seed=0)
        mean, draws = uar_of(b, [r["test_pred"] for r in records], test, c)
        per_seed = spread([uar_of(b, [r["test_pred"]], test, c)[0] for r in records])
        ci = b.interval(mean, draws)
        line = (
            f"| {corpus} | {model} | {recipe} | {len(records)} | {100 * val:.1f} | "
            f"{100 * per_seed.mean:.1f} ± {100 * per_seed.sd:.1f} | {pct(ci)} |"
        )
        base = runs.get((corpus, model, baseline))
        if recipe != baseline and base:
            p_mean, p_draws = uar_of(b, [r["test_pred"] for r in base], test, c)
            gain = b.interval(mean - p_mean, draws - p_draws)
            half = b.interval(p_mean, p_draws).half_width
            line += f" {100 * gain.value:+.1f} [{100 * gain.low:+.1f}, {100 * gain.high:+.1f}] | "
            line += f"{'yes' if gain.value > half else 'no'} ({100 * half:.1f}) |"
        else:
            line += " – | – |"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=[*CORPORA, *FULL_ONLY])
    parser.add_argument("--models", nargs="+", default=["emo18", "zhao19"])
    parser.add_argument("--recipes", nargs="+", default=["today", "small_corpus"],
                        choices=["today", "paper", "small_corpus"])  # fmt: skip
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--set", dest="settings", action="append", default=[], help="recipe override key=value")
    parser.add_argument("--tag", help="folder name of the paper or small-corpus variant (default: the recipe's name)")
    parser.add_argument("--root", action="append", default=[], help="corpus=folder, to use other copies")
    parser.add_argument("--frozen-front-end", action="store_true",
                        help="train the recurrent head only (with --set init_from: a pre-trained front end kept)")  # fmt: skip
    parser.add_argument("--baseline", default="today", help="the variant every other is compared with (folder name)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="CPU threads of each training")
    args = parser.parse_args()
    roots = {**CORPORA, **{k: Path(v) for k, _, v in (r.partition("=") for r in args.root)}}
    if missing := [c for c in args.corpora if c not in roots]:
        parser.error(f"give the folder of {', '.join(missing)} with --root {missing[0]}=<folder>")
    overrides = parse_settings(args.settings)
    corpora = {c: prepare(build_corpus(c, roots[c]), args.out / "cache", show_progress=False) for c in args.corpora}
    runs: dict[tuple[str, str, str], list[dict]] = {}
    for corpus, pc in corpora.items():
        for model in args.models:
            for recipe in args.recipes:
                name = recipe if recipe == "today" else args.tag or recipe
                for seed in args.seeds:
                    out = args.out / corpus / model / name / f"seed{seed}"
                    with torch_threads(args.threads):
                        cfg = recipe_config(recipe, model, seed, overrides)
                        record = run_one(pc, model, cfg, out, args.frozen_front_end)
                    runs.setdefault((corpus, model, name), []).append(record)
                    print(
                        f"done {corpus} {model} {name} seed {seed}: {record['epochs_run']} epochs, "
                        f"{record['seconds']:.0f} s",
                        flush=True,
                    )
    for corpus in corpora:
        for model in args.models:
            if (corpus, model, args.baseline) not in runs and (
                base := finished(args.out, corpus, model, args.baseline, args.seeds)
            ):
                runs[(corpus, model, args.baseline)] = base
    report(runs, corpora, args.baseline)


if __name__ == "__main__":
    main()
