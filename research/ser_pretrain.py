"""Pre-train an SER model on pooled emotional speech (RAVDESS + nEMO + EmoDB's training speakers).

The pooled corpus is a CSV manifest written here: every RAVDESS and nEMO clip in its own corpus's split,
and the EmoDB clips of the *training* speakers only (EmoDB's validation and test speakers are never
read), labels under the corpora's shared names, classes in EmoDB's
order first and then the others (``calm``, ``surprise``), so that a fine-tuning on EmoDB keeps every
output row of its classes. One training of the model on its training split (its validation split:
RAVDESS's and nEMO's validation speakers) writes ``<out>/pretrain/best``; fine-tune from it with
``research/ser_recipe.py --recipes paper --set init_from='"<out>/pretrain/best"'``.

    OMP_NUM_THREADS=1 PYTHONPATH=src python research/ser_pretrain.py --out runs/pretrain \\
        --root emodb=/work/data/emodb --root ravdess=/work/data/ravdess --root nemo=/work/data/nemo --threads 1

``--set key=value`` changes the pre-training recipe (:data:`PRETRAIN`; values parsed as JSON).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from staa.data.cache import prepare
from staa.data.emodb import CLASSES as EMODB_CLASSES
from staa.data.registry import build_corpus
from staa.io.outputs import write_json
from staa.models import build_model
from staa.runtime.reproducibility import seed_everything
from staa.runtime.threads import DEFAULT_THREADS, torch_threads
from staa.training.ser import TrainConfig, train_ser

#: The pre-training recipe: random 1 s crops (four times cheaper than 2–3 s clips), batches of 16,
#: one warm-up epoch then cosine decay over a fixed number of epochs, the best validation UAR kept.
PRETRAIN: dict[str, Any] = {
    "epochs": 8,
    "lr": 1e-3,
    "batch_size": 16,
    "warmup_epochs": 1,
    "schedule": "cosine",
    "augment": {"speed": 0.0, "gain_db": 0.0, "noise_prob": 0.0, "crop_seconds": 1.0},
}


def pooled_manifest(roots: dict[str, Path], path: Path) -> list[str]:
    """Write the pooled corpus's CSV (path, label, speaker, split) at ``path``; returns its classes in order."""
    rows = []
    for name in ("emodb", "ravdess", "nemo"):
        corpus = build_corpus(name, roots[name])
        for item in corpus.items():
            if name == "emodb" and item.split != "train":
                continue  # EmoDB's validation and test speakers stay unseen
            rows.append(
                {"path": item.path, "label": item.label, "speaker": f"{name}-{item.speaker}", "split": item.split}
            )
    others = sorted({r["label"] for r in rows} - set(EMODB_CLASSES))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "speaker", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return [*EMODB_CLASSES, *others]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--root", action="append", default=[], help="corpus=folder, for emodb, ravdess and nemo")
    parser.add_argument("--model", default="emo18")
    parser.add_argument("--seconds", type=float, default=3.0, help="length every pooled clip is unified to")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="settings", action="append", default=[], help="recipe override key=value")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="CPU threads of the training")
    args = parser.parse_args()
    roots = {k: Path(v) for k, _, v in (r.partition("=") for r in args.root)}
    classes = pooled_manifest(roots, args.out / "pooled.csv")
    corpus = build_corpus(str(args.out / "pooled.csv"), classes=classes, seconds=args.seconds)
    pc = prepare(corpus, args.out / "cache", show_progress=False)
    for split in ("train", "val", "test"):
        print(f"{split}: {len(pc.split(split))} clips", flush=True)
    settings = {**PRETRAIN, **{k: json.loads(v) for k, _, v in (s.partition("=") for s in args.settings)}}
    cfg = TrainConfig(seed=args.seed, **settings)
    seed_everything(cfg.seed)
    net = build_model(args.model, num_classes=len(pc.classes), class_names=pc.classes)
    with torch_threads(args.threads):
        result = train_ser(net, pc, args.out / "pretrain", cfg)
    write_json(args.out / "pretrain" / "summary.json", {k: result[k] for k in ("best_val_uar", "history")})
    for h in result["history"]:
        print(f"epoch {h['epoch']}: {h['seconds']:.0f} s, {h['clips_per_second']:.1f} clips/s, "
              f"loss {h['loss']:.3f}, val UAR {100 * h['val_uar']:.1f} %")  # fmt: skip


if __name__ == "__main__":
    main()
