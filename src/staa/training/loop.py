"""The one epoch loop of SER training, plain and adversarial: resume, select, checkpoint, torchrun.

:func:`fit` owns everything the two trainings share, so it is written once: the output folder (partial
files of a killed run removed), the seed, the optimiser (the paper's Adam, or AdamW with weight decay:
:func:`staa.training.recipe.optimizer`), early stopping on validation UAR (``patience``), resuming from
``last.pt`` (weights, optimiser, history and RNG states), the data-parallel wrapper and global-batch
batch norm under ``torchrun`` (see :mod:`staa.runtime.distributed`), the validation UAR after every epoch,
a warm start from another checkpoint (``init_from``); ``best/`` (the best validation UAR so far, safetensors), ``last.pt`` and the final ``train.json`` (each
epoch's seconds and clips per second); the claim on the folder (``spec.json``: the model's config and
initial weights, the training config and the corpus), so that a resumed or repeated run with other
settings is refused instead of continuing a different training, and a finished run with the same
settings is reused as it is (recipe settings left at their defaults are left out of the claim, so folders
trained before the recipe existed keep theirs). Under a constant learning rate the number of epochs
alone may grow: the data order and the optimiser depend on the epoch index only, so a run continued to
more epochs ends exactly as one that ran them all (fewer epochs than already trained are refused); a
cosine schedule decays towards the planned last epoch, so there the number of epochs is part of the
claim. What differs — how one epoch turns batches into gradient steps — is the caller's ``run_epoch``: plain cross-entropy
(:mod:`staa.training.ser`) or batches half replaced by adversarial clips (:mod:`staa.training.adversarial`).
Only rank 0 writes files and shows progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from staa.data.cache import PreparedCorpus, Split
from staa.errors import CheckpointError, ConfigError, DataError, first_line
from staa.io.checkpoint import load_state, save_state
from staa.io.outputs import claimed, remove_partial_outputs, write_json
from staa.io.weights import fingerprint
from staa.models.base import SERModel
from staa.models.warm_start import warm_start
from staa.runtime import distributed as ddp
from staa.runtime.reproducibility import provenance, seed_everything
from staa.training import recipe

RESUME_FILE = "last.pt"
OUTPUTS = ("best", RESUME_FILE, "train.json")

#: One pass over the training split: (network, optimiser, split, epoch, device, show progress) → its statistics
#: (``clips``: how many clips it trained on, when not one pass over the split; it becomes clips per second).
EpochFn = Callable[[nn.Module, torch.optim.Optimizer, Split, int, torch.device, bool], dict[str, Any]]
#: Validation metrics of a model on a split: (model, split, batch size, device) → at least ``uar`` and ``accuracy``.
EvaluateFn = Callable[[SERModel, Split, int, torch.device], dict[str, Any]]


class LoopConfig(Protocol):
    """What the loop reads from a training config (:class:`~staa.training.ser.TrainConfig` and its subclasses)."""

    epochs: int
    lr: float
    seed: int
    eval_batch_size: int
    weight_decay: float
    patience: int | None
    schedule: str
    init_from: str | None


def fit(
    model: SERModel,
    corpus: PreparedCorpus,
    out_dir: str | Path,
    cfg: LoopConfig,
    run_epoch: EpochFn,
    evaluate: EvaluateFn,
    *,
    device: str | torch.device = "cpu",
    show_progress: bool = True,
    data_parallel: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train ``model`` for ``cfg.epochs`` epochs of ``run_epoch``, selecting on validation UAR; resumable.

    ``data_parallel = False`` marks an epoch function that does not split its batches over ranks: it is
    refused under torchrun rather than run once per rank. ``overwrite`` starts the folder over.
    """
    ddp.setup(device)
    if not data_parallel and ddp.world_size() > 1:
        raise ConfigError("this training runs in a single process: start it without torchrun")
    device = ddp.local_device(device)
    out = Path(out_dir)
    train = corpus.split("train")
    if len(train) == 0:
        raise DataError("the training split is empty", corpus.path)
    if int(train.labels.max()) >= model.num_classes:
        raise DataError(f"corpus has more classes than the model's {model.num_classes}", corpus.path)
    model.check_fits(corpus.classes, corpus.sample_rate, length=corpus.length)
    if cfg.init_from is not None:
        warm_start(model, cfg.init_from)  # before the claim, whose initial weights are then the copied ones
    grows = cfg.schedule == "constant"  # a decaying lr depends on the planned number of epochs
    train_spec = {k: v for k, v in asdict(cfg).items()  # type: ignore[call-overload]
                  if (k != "epochs" or not grows) and not recipe.left_at_default(cfg, k)}  # fmt: skip
    spec = {"model": model.config.to_dict(), "initial_weights": fingerprint(model), "train": train_spec,
            "corpus": corpus.path.name}  # fmt: skip
    with claimed(out, spec, outputs=OUTPUTS, overwrite=overwrite, write=ddp.is_main()):
        return _epochs(model, corpus, out, cfg, run_epoch, evaluate, device, show_progress)


def more_epochs_than_asked(done: int, epochs: int, out: Path) -> ConfigError:
    """The refusal of a run that already trained more epochs than asked: it cannot give what was asked."""
    return ConfigError(f"trained for {done} epochs already, more than the {epochs} asked; rerun with --overwrite "
                       "to start over, or ask for at least as many", out)  # fmt: skip


def _epochs(
    model: SERModel,
    corpus: PreparedCorpus,
    out: Path,
    cfg: LoopConfig,
    run_epoch: EpochFn,
    evaluate: EvaluateFn,
    device: torch.device,
    show_progress: bool,
) -> dict[str, Any]:
    """The epochs still to run (all, or those after the resume state's), then ``train.json``."""
    if ddp.is_main():
        remove_partial_outputs(out)
    train, val = corpus.split("train"), corpus.split("val")
    seed_everything(cfg.seed)
    model.to(device)
    optimizer = recipe.optimizer(model, cfg)
    history, best_uar, start_epoch = _resume(model, optimizer, out / RESUME_FILE)
    if start_epoch > cfg.epochs:
        raise more_epochs_than_asked(start_epoch, cfg.epochs, out)
    net = ddp.data_parallel(model)
    show = show_progress and ddp.is_main()
    for epoch in range(start_epoch, cfg.epochs):
        if recipe.stop_early(history, cfg.patience):
            break
        t0 = time.perf_counter()
        with ddp.cross_rank_batchnorm(model):
            stats = run_epoch(net, optimizer, train, epoch, device, show)
        seconds = time.perf_counter() - t0
        clips = stats.pop("clips", len(train))  # the global batches' clips, over all ranks
        metrics = evaluate(model, val, cfg.eval_batch_size, device)
        history.append({"epoch": epoch + 1, **stats, "seconds": seconds, "clips_per_second": clips / seconds,
                        "val_uar": metrics["uar"], "val_accuracy": metrics["accuracy"]})  # fmt: skip
        best_uar = _end_epoch(model, optimizer, out, history, best_uar, epoch)
    result = _train_result(out, model, corpus, cfg, history, best_uar)
    ddp.barrier()
    return result


def _resume(model: SERModel, optimizer: torch.optim.Optimizer, path: Path) -> tuple[list[dict], float, int]:
    """(history, best validation UAR, first epoch to run) from a resume state, or a fresh start.

    A state written for another architecture or class count is refused in one line.
    """
    state = load_state(
        path, {"model": dict, "optimizer": dict, "history": list, "best_uar": (int, float), "epoch": int}
    )
    if state is None:
        return [], -1.0, 0
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (KeyError, RuntimeError, ValueError) as exc:
        problem = f"resume state does not match this model or optimiser ({first_line(exc)})"
        raise CheckpointError(problem, path) from None
    return state["history"], state["best_uar"], state["epoch"] + 1


def _end_epoch(
    model: SERModel, optimizer: torch.optim.Optimizer, out: Path, history: list[dict], best_uar: float, epoch: int
) -> float:
    """Select on the last epoch's validation UAR (``best/``) and write the resume state; returns the best UAR."""
    val_uar = history[-1]["val_uar"]
    if ddp.is_main():
        if val_uar > best_uar:
            model.save_pretrained(out / "best")
        save_state(
            out / RESUME_FILE,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            history=history,
            best_uar=max(best_uar, val_uar),
            epoch=epoch,
        )
    return max(best_uar, val_uar)


def _train_result(
    out: Path, model: SERModel, corpus: PreparedCorpus, cfg: LoopConfig, history: list[dict], best_uar: float
) -> dict[str, Any]:
    """The ``train.json`` record of a finished run (written by rank 0), with provenance."""
    result = {
        "best_val_uar": best_uar,
        "seconds_per_epoch": sum(h["seconds"] for h in history) / max(1, len(history)),
        "clips_per_second": sum(h.get("clips_per_second", 0.0) for h in history) / max(1, len(history)),
        "stopped_early": len(history) < cfg.epochs,
        "history": history,
        "train_config": asdict(cfg),
        "world_size": ddp.world_size(),
        "provenance": provenance({"corpus": str(corpus.path), "model": model.config.to_dict()}, cfg.seed),
    }
    if ddp.is_main():
        write_json(out / "train.json", result)
    return result
