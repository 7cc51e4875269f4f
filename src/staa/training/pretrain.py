"""Pre-training on pooled emotional speech: one model learns emotions from every corpus at hand, then
fine-tunes on each.

A scratch model trained on the six to sixteen speakers of one emotional corpus learns those speakers as much
as their emotions, and scores far lower on unseen speakers than on its validation ones. Pooling the corpora
gives it more voices, languages and recordings before it specialises: :func:`pooled_manifest` writes one CSV
manifest of several corpora's clips, each clip in its own corpus's split, so that the training speakers of
every corpus train, the validation speakers choose the epoch and the test speakers are only scored at the
end. A corpus named in ``train_only`` gives its training speakers alone: fine-tuned on that corpus later,
the model then selects its epoch on validation speakers the pre-training never read, and its test speakers
stay unseen throughout. Classes are the union of the corpora's, named as the corpora name them (nEMO's
*surprised* is read as RAVDESS's *surprise*), so that :func:`staa.models.warm_start.warm_start` copies
each output row to the fine-tuned model's class of the same name.

:func:`pretrain` trains the model on the pooled corpus with :meth:`TrainConfig.pooled`: random 1 s crops (four
times cheaper than whole 3 s clips, and each epoch sees other parts of every clip), batches of 16, one
warm-up epoch then cosine decay, the epoch of best validation UAR kept in ``best/``. Fine-tune from it with
``TrainConfig(init_from=<out>/pretrain/best, ...)``, ``staa ser train --init-from`` or an experiment
model's ``recipe_settings: {init_from: ...}``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from staa.data.base import Corpus
from staa.data.cache import PreparedCorpus, prepare
from staa.data.files import AudioFileCorpus
from staa.data.registry import build_corpus
from staa.errors import ConfigError
from staa.io.outputs import atomic_path, write_json
from staa.io.weights import fingerprint
from staa.models import build_model, load_model
from staa.runtime import distributed as ddp
from staa.runtime.reproducibility import seed_everything
from staa.training.ser import TrainConfig, evaluate_ser, train_ser

POOLED_SECONDS = 3.0  # every pooled clip unified to this length (EmoDB 2.0 s, nEMO 3.4 s, RAVDESS 3.5 s)
MANIFEST = "pooled.csv"


def pooled_manifest(
    roots: Mapping[str, str | Path | None], path: str | Path, *, train_only: Collection[str] = ()
) -> list[str]:
    """Write the pooled corpus's CSV (path, label, speaker, split) at ``path``; returns its classes in order.

    ``roots`` maps corpus names (``emodb``, ``ravdess``, ``nemo``, a manifest's ``.csv`` …) to their folders;
    speakers are prefixed with their corpus's name, so two corpora's speaker ``01`` stay two speakers.
    Classes: the first corpus's in its order, then the others' new ones sorted.
    """
    if len(roots) < 2:
        raise ConfigError("pooling needs at least two corpora (name=folder)")
    if unknown := set(train_only) - set(roots):
        raise ConfigError(f"train_only names {', '.join(sorted(unknown))}, not among the pooled corpora")
    if set(train_only) == set(roots):
        raise ConfigError("every pooled corpus is train_only: at least one must give validation speakers")
    corpora = [build_corpus(name, root) for name, root in roots.items()]
    names = [c.name for c in corpora]
    if twice := sorted({n for n in names if names.count(n) > 1}):
        raise ConfigError(f"two pooled corpora are both named '{twice[0]}': their speakers would merge (rename a CSV)")
    rows = [
        {"path": _absolute(corpus, it.path), "label": it.label, "speaker": f"{corpus.name}-{it.speaker}",
         "split": it.split}
        for name, corpus in zip(roots, corpora)
        for it in corpus.items()
        if name not in train_only or it.split == "train"
    ]  # fmt: skip
    first = list(corpora[0].classes)
    classes = first + sorted({r["label"] for r in rows} - set(first))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "speaker", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return classes


def _absolute(corpus: Corpus, path: str) -> str:
    """An item's file as an absolute path (a manifest's rows may be relative to its CSV's folder)."""
    if not isinstance(corpus, AudioFileCorpus):
        raise ConfigError(
            f"corpus '{corpus.name}' has no audio files to pool (the synthetic corpus generates its clips)"
        )
    p = Path(path)
    return str(p if p.is_absolute() else Path(corpus.root) / p)


def prepare_pooled(
    roots: Mapping[str, str | Path | None],
    out: str | Path,
    *,
    train_only: Collection[str] = (),
    seconds: float = POOLED_SECONDS,
    show_progress: bool = True,
) -> PreparedCorpus:
    """The pooled corpus, prepared (decoded, resampled, unified to ``seconds``) under ``out/cache``."""
    out = Path(out)
    classes = pooled_manifest(roots, out / MANIFEST, train_only=train_only)
    corpus = build_corpus(str(out / MANIFEST), classes=classes, seconds=seconds)
    return prepare(corpus, out / "cache", show_progress=show_progress)


def pretrain(
    roots: Mapping[str, str | Path | None],
    out: str | Path,
    *,
    model: str = "emo18",
    options: Mapping[str, Any] | None = None,
    train_only: Collection[str] = (),
    seconds: float = POOLED_SECONDS,
    config: TrainConfig | None = None,
    device: str = "cpu",
    show_progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Pre-train ``model`` (built with ``options``, e.g. ``hidden``) on the pooled ``roots``: checkpoint in
    ``out/pretrain/best``, resumable and data-parallel under torchrun (rank 0 prepares the pooled corpus, the
    others reuse it); ``overwrite`` starts the training over.

    Returns the training record plus ``test``: the selected epoch scored on every pooled corpus's test
    speakers (those of ``train_only`` corpora excluded), written to ``out/pretrain/eval.json``.
    """
    ddp.setup(device)
    with ddp.main_first():
        pc = prepare_pooled(roots, out, train_only=train_only, seconds=seconds,
                            show_progress=show_progress and ddp.is_main())  # fmt: skip
    cfg = config or TrainConfig.pooled()
    seed_everything(cfg.seed)  # the initial weights are fixed by the seed
    net = build_model(model, num_classes=len(pc.classes), class_names=pc.classes, **(options or {}))
    folder = Path(out) / "pretrain"
    result = train_ser(net, pc, folder, cfg, device=device, show_progress=show_progress, overwrite=overwrite)
    best = load_model(folder / "best").to(ddp.local_device(device))
    weights, done = fingerprint(best), folder / "eval.json"
    saved = json.loads(done.read_text()) if done.exists() else {}
    if saved.get("weights") == weights:  # a finished pre-training run again (an experiment resumed): not rescored
        return {**result, "test": saved["test"]}
    scored = evaluate_ser(best, pc.split("test"), cfg.eval_batch_size, device)
    if ddp.is_main():
        write_json(done, {"test": scored, "weights": weights, "corpora": {k: str(v) for k, v in roots.items()},
                          "train_only": sorted(train_only)})  # fmt: skip
    return {**result, "test": scored}
