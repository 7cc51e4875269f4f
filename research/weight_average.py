"""Do the averaged weights of the last epochs reach unseen speakers better than the epoch chosen on validation?

An SER model trained on a few speakers moves by several points of validation UAR from one epoch to the next,
so the epoch of best validation UAR is partly chosen by noise in 100-odd validation clips. Averaging the
weights of the last k epochs (stochastic weight averaging; the batch-norm statistics then recomputed on the
training split, since averaged weights do not match any epoch's statistics) gives a model chosen by no
validation draw. The script trains one corpus × model × recipe per seed (as ``ser_recipe.py`` does, with the
same ``--recipes``, ``--set`` and ``--tag``), keeps every epoch's weights, and prints for the selected epoch
(``best``) and for each ``--last k``: validation UAR and test UAR with the interval over test clips, per seed
and as the mean over seeds with the interval of that mean. Choose k on the validation column.

Averaged weights need no validation speakers to pick an epoch, so once k and the number of epochs are chosen
on validation, ``--train-on-val`` trains on the training and validation speakers together (the test speakers
stay unseen); its validation column then scores clips the model trained on and means nothing.

    OMP_NUM_THREADS=1 PYTHONPATH=src python research/weight_average.py --out runs/swa --corpus emodb \
        --root emodb=/work/data/emodb --recipe paper --set init_from='"runs/pool16/pretrain/best"' \
        --set lr=3e-4 --set epochs=10 --tag pre16 --last 3 5 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from ser_recipe import CORPORA, FULL_ONLY, parse_settings, recipe_config
from torch.optim.swa_utils import update_bn

from staa.data.cache import PreparedCorpus, Split, prepare
from staa.data.registry import build_corpus
from staa.io.outputs import write_json
from staa.metrics import uar
from staa.models import build_model, load_model
from staa.runtime.reproducibility import provenance, seed_everything
from staa.runtime.threads import DEFAULT_THREADS, torch_threads
from staa.training.loop import fit
from staa.training.ser import TrainConfig, _train_epoch, predict_split, validate_ser
from staa.uncertainty import Bootstrap

SNAPSHOTS = "epochs"


@dataclass
class TrainOnVal(PreparedCorpus):
    """A prepared corpus whose training split also holds its validation clips."""

    def split(self, name: str) -> Split:
        if name != "train":
            return super().split(name)
        t, v = super().split("train"), super().split("val")
        return Split(
            np.concatenate([t.waves, v.waves]), np.concatenate([t.labels, v.labels]), t.items + v.items
        )  # one state dict per epoch, named by the epoch (1-based)


def snapshot_epoch(cfg: TrainConfig, sample_rate: int, folder: Path, net, optimizer, train, epoch, device, show):
    """The recipe's epoch, then its weights saved as ``folder/<epoch>.pt`` (rewritten when a resumed run repeats it)."""
    stats = _train_epoch(cfg, sample_rate, net, optimizer, train, epoch, device, show)
    folder.mkdir(exist_ok=True)
    torch.save({k: v.detach().clone() for k, v in net.state_dict().items()}, folder / f"{epoch + 1}.pt")
    return stats


def averaged(pc: PreparedCorpus, model: str, folder: Path, epochs: list[int], batch_size: int):
    """A model with the mean weights of ``epochs``' snapshots, its batch-norm statistics recomputed on train."""
    states = [torch.load(folder / f"{e}.pt", weights_only=True) for e in epochs]
    mean = {k: sum(s[k].double() for s in states) / len(states) if v.is_floating_point() else v
            for k, v in states[-1].items()}  # fmt: skip
    net = build_model(model, num_classes=len(pc.classes), class_names=pc.classes)
    net.load_state_dict({k: v.to(states[-1][k].dtype) for k, v in mean.items()})
    waves = train_batches(pc.split("train"), batch_size)
    update_bn(waves, net)
    return net.eval()


def train_batches(split: Split, batch_size: int) -> list[torch.Tensor]:
    return [
        torch.from_numpy(split.waves[i : i + batch_size].astype("float32")) for i in range(0, len(split), batch_size)
    ]


def run_seed(pc: PreparedCorpus, model: str, cfg: TrainConfig, out: Path, lasts: list[int]) -> dict:
    """Train with snapshots (resuming), then the val and test predictions of ``best`` and of each average."""
    done = out / "average.json"
    if done.exists():
        return json.loads(done.read_text())
    seed_everything(cfg.seed)
    net = build_model(model, num_classes=len(pc.classes), class_names=pc.classes)
    epoch_fn = functools.partial(snapshot_epoch, cfg, pc.sample_rate, out / SNAPSHOTS)
    result = fit(net, pc, out, cfg, epoch_fn, validate_ser, show_progress=False)
    ran = len(result["history"])
    candidates = {"best": load_model(out / "best").eval()}
    for k in lasts:
        candidates[f"last {k}"] = averaged(pc, model, out / SNAPSHOTS, list(range(ran - k + 1, ran + 1)), 32)
    record = {
        name: {split: predict_split(m, pc.split(split)).tolist() for split in ("val", "test")}
        for name, m in candidates.items()
    }
    record["val_uar_by_epoch"] = [h["val_uar"] for h in result["history"]]
    record["provenance"] = provenance({"train_config": result["train_config"]}, cfg.seed)
    write_json(done, record)
    return record


def report(pc: PreparedCorpus, records: list[dict], names: list[str]) -> None:
    val, test, c = pc.split("val").labels, pc.split("test").labels, len(pc.classes)
    b = Bootstrap(len(test), seed=0)
    print("\n| weights | val UAR % per seed | val mean | test UAR % per seed | test mean [95 % CI of the mean] |")
    print("|---|---|---|---|---|")
    for name in names:
        v = [100 * uar(r[name]["val"], val, c) for r in records]
        t = [100 * uar(r[name]["test"], test, c) for r in records]
        draws = np.mean([b.uar(r[name]["test"], test, c) for r in records], axis=0)
        ci = b.interval(float(np.mean(t)) / 100, draws)
        print(
            f"| {name} | {' / '.join(f'{x:.1f}' for x in v)} | {np.mean(v):.1f} | {' / '.join(f'{x:.1f}' for x in t)}"
            f" | {np.mean(t):.1f} [{100 * ci.low:.1f}, {100 * ci.high:.1f}] |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--corpus", required=True, choices=[*CORPORA, *FULL_ONLY])
    parser.add_argument("--root", action="append", default=[], help="corpus=folder, to use other copies")
    parser.add_argument("--model", default="emo18")
    parser.add_argument("--recipe", default="paper", choices=["paper", "small_corpus"])
    parser.add_argument("--set", dest="settings", action="append", default=[], help="recipe override key=value")
    parser.add_argument("--tag", help="folder name of the variant (default: the recipe's name)")
    parser.add_argument("--last", nargs="+", type=int, default=[3, 5], help="how many final epochs to average")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--train-on-val", action="store_true", help="train on the validation speakers too")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    args = parser.parse_args()
    roots = {**CORPORA, **{k: Path(v) for k, _, v in (r.partition("=") for r in args.root)}}
    if args.corpus not in roots:
        parser.error(f"give the folder of {args.corpus} with --root {args.corpus}=<folder>")
    pc = prepare(build_corpus(args.corpus, roots[args.corpus]), args.out / "cache", show_progress=False)
    if args.train_on_val:
        pc = TrainOnVal(**asdict(pc))
    overrides = parse_settings(args.settings)
    records = []
    for seed in args.seeds:
        out = args.out / args.corpus / args.model / (args.tag or args.recipe) / f"seed{seed}"
        cfg = recipe_config(args.recipe, args.model, seed, overrides)
        with torch_threads(args.threads):
            records.append(run_seed(pc, args.model, cfg, out, args.last))
        print(f"done seed {seed}: val UAR by epoch {[round(100 * u, 1) for u in records[-1]['val_uar_by_epoch']]}")
    report(pc, records, ["best", *(f"last {k}" for k in args.last)])


if __name__ == "__main__":
    main()
