"""SER training as in the paper: cross-entropy, Adam, batch 8, model selection on validation UAR.

One epoch = one shuffled pass over the training split. After each epoch the validation UAR decides
whether ``best/`` (safetensors + config) is replaced, and ``last.pt`` records everything needed to
resume, so a killed run continues from its last finished epoch and ends with the same numbers.

Under ``torchrun`` the same loop runs data-parallel (see :mod:`staa.distributed`): each global batch
of ``batch_size`` examples is split across ranks, gradients are averaged by DDP, batch norm uses the
global batch, and validation predictions are gathered, so N ranks reproduce one process. Only rank 0
writes files and shows progress.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from staa import distributed as ddp
from staa.checkpoint import load_state, save_state
from staa.data.cache import PreparedCorpus, Split
from staa.errors import CheckpointError, ConfigError, DataError, first_line
from staa.metrics import accuracy, confusion_matrix, uar
from staa.models.base import SERModel
from staa.outputs import remove_partial_outputs, write_json
from staa.progress import progress
from staa.reproducibility import provenance, seed_everything


@dataclass
class TrainConfig:
    """Paper defaults for scratch models; foundation models use lr 3e-5 and 20 epochs."""

    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 8
    seed: int = 0
    eval_batch_size: int = 32

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError(
                f"epochs, batch_size and eval_batch_size must be ≥ 1, got {self.epochs}, "
                f"{self.batch_size}, {self.eval_batch_size}"
            )
        if not self.lr > 0:
            raise ConfigError(f"learning rate must be positive, got {self.lr}")


def predict_split(
    model: SERModel, split: Split, batch_size: int = 32, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Arg-max predictions for every row of ``split``, in order; under torchrun each rank predicts its
    strided shard and the shards are gathered, so every rank returns all ``len(split)`` predictions."""
    device = ddp.local_device(device)
    idx = ddp.shard_indices(len(split))
    preds = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(idx), batch_size):
            rows = idx[i : i + batch_size]
            x = torch.from_numpy(split.waves[rows].astype("float32", copy=False))
            preds.append(model(x.to(device)).argmax(-1))
    model.train(was_training)
    local = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long, device=device)
    return ddp.gather_concat(local, len(split)).cpu()


def evaluate_ser(model: SERModel, split: Split, batch_size: int = 32, device: str | torch.device = "cpu") -> dict:
    """Accuracy, UAR and confusion matrix of ``model`` on a prepared split.

    UAR averages recall over the classes present in the split; a class absent from it is listed in
    ``absent_classes`` and a warning is issued, because such a UAR is not comparable with one over all.
    """
    if len(split) == 0:
        raise DataError("cannot evaluate on an empty split")
    labels = torch.as_tensor(split.labels)
    if labels.min() < 0 or labels.max() >= model.num_classes:
        raise DataError(f"split has labels outside the model's {model.num_classes} classes (another corpus?)")
    pred = predict_split(model, split, batch_size, device)
    absent = sorted(set(range(model.num_classes)) - set(labels.tolist()))
    if absent:
        names = [model.config.class_names[c] if c < len(model.config.class_names) else str(c) for c in absent]
        warnings.warn(f"UAR over present classes only; absent from this split: {', '.join(names)}", stacklevel=2)
    return {
        "n": len(labels),
        "accuracy": accuracy(pred, labels),
        "uar": uar(pred, labels, model.num_classes),
        "confusion": confusion_matrix(pred, labels, model.num_classes).tolist(),
        "absent_classes": absent,
    }


def train_ser(
    model: SERModel,
    corpus: PreparedCorpus,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    show_progress: bool = True,
) -> dict[str, Any]:
    """Train ``model`` on ``corpus``'s train split, select on val UAR; resume from ``out_dir/last.pt``."""
    cfg = config or TrainConfig()
    ddp.setup(device)
    device = ddp.local_device(device)
    out = Path(out_dir)
    if ddp.is_main():
        out.mkdir(parents=True, exist_ok=True)
        remove_partial_outputs(out)
    seed_everything(cfg.seed)
    model.to(device)
    train, val = corpus.split("train"), corpus.split("val")
    if len(train) == 0:
        raise DataError("the training split is empty", corpus.path)
    if int(train.labels.max()) >= model.num_classes:
        raise DataError(f"corpus has more classes than the model's {model.num_classes}", corpus.path)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    history: list[dict] = []
    best_uar, start_epoch = -1.0, 0
    state = load_state(out / "last.pt")
    if state is not None:
        restore_state(model, optimizer, state, out / "last.pt")
        history, best_uar, start_epoch = state["history"], state["best_uar"], state["epoch"] + 1
    net = ddp.data_parallel(model)
    show = show_progress and ddp.is_main()
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        with ddp.cross_rank_batchnorm(model):
            mean_loss = _train_epoch(net, optimizer, train, cfg, epoch, device, show)
        seconds = time.perf_counter() - t0
        metrics = evaluate_ser(model, val, cfg.eval_batch_size, device)
        history.append(
            {
                "epoch": epoch + 1,
                "loss": mean_loss,
                "seconds": seconds,
                "val_uar": metrics["uar"],
                "val_accuracy": metrics["accuracy"],
            }
        )
        best_uar = end_epoch(model, optimizer, out, history, best_uar, epoch)
    result = train_result(out, model, corpus, cfg, history, best_uar)
    ddp.barrier()
    return result


def end_epoch(
    model: SERModel, optimizer: torch.optim.Optimizer, out: Path, history: list[dict], best_uar: float, epoch: int
) -> float:
    """Select on the last epoch's validation UAR (``best/``) and write the resume state; returns the best UAR.

    Shared by every SER training loop (plain and adversarial) so that they checkpoint and resume alike;
    only rank 0 writes.
    """
    val_uar = history[-1]["val_uar"]
    if ddp.is_main():
        if val_uar > best_uar:
            model.save_pretrained(out / "best")
        save_state(
            out / "last.pt",
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            history=history,
            best_uar=max(best_uar, val_uar),
            epoch=epoch,
        )
    return max(best_uar, val_uar)


def train_result(
    out: Path, model: SERModel, corpus: PreparedCorpus, cfg: Any, history: list[dict], best_uar: float
) -> dict[str, Any]:
    """The ``train.json`` record of a finished run (written by rank 0), with provenance."""
    result = {
        "best_val_uar": best_uar,
        "seconds_per_epoch": sum(h["seconds"] for h in history) / max(1, len(history)),
        "history": history,
        "train_config": asdict(cfg),
        "world_size": ddp.world_size(),
        "provenance": provenance({"corpus": str(corpus.path), "model": model.config.to_dict()}, cfg.seed),
    }
    if ddp.is_main():
        write_json(out / "train.json", result)
    return result


def restore_state(model: SERModel, optimizer: torch.optim.Optimizer, state: dict, path: Path) -> None:
    """Load a resume state, refusing one written for another architecture or class count."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (KeyError, RuntimeError, ValueError) as exc:
        problem = f"resume state does not match this model or optimiser ({first_line(exc)})"
        raise CheckpointError(problem, path) from None


def _train_epoch(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Split,
    cfg: TrainConfig,
    epoch: int,
    device: torch.device,
    show: bool,
) -> float:
    """One shuffled pass; returns the mean training loss over the whole split (all ranks).

    The shuffle depends only on (seed, epoch), so every rank draws the same global batches and a
    resumed run draws the ones the uninterrupted run would have. Each rank's loss is its share of the
    global-batch mean, scaled by the world size because DDP averages gradients over ranks.
    """
    net.train()
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
    order = torch.randperm(len(train), generator=gen).tolist()
    batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
    total = torch.zeros(2, dtype=torch.float64)
    for batch in progress(batches, f"epoch {epoch + 1}/{cfg.epochs}", show):
        optimizer.zero_grad(set_to_none=True)
        total += backward_global_batch(net, train, batch, device)
        optimizer.step()
    total = ddp.all_reduce_sum(total.to(device)).cpu()
    return float(total[0] / total[1])


def backward_global_batch(net: nn.Module, split: Split, batch: list[int], device: torch.device) -> torch.Tensor:
    """Accumulate into ``net``'s gradients this rank's share of the mean cross-entropy of ``batch``.

    The rank takes the strided slice ``batch[rank::world_size]`` and scales its summed loss by
    ``world_size / len(batch)``: DDP then averages over ranks, giving exactly the gradient of the
    global-batch mean. Returns (summed loss, rows) of this rank for epoch bookkeeping.
    """
    ws = ddp.world_size()
    rows = sorted(batch[ddp.rank() :: ws])
    x = torch.from_numpy(split.waves[rows].astype("float32", copy=False)).to(device)
    y = torch.as_tensor(split.labels[rows], dtype=torch.long, device=device)
    loss_sum = nn.functional.cross_entropy(net(x), y, reduction="sum")
    (loss_sum * (ws / len(batch))).backward()
    return torch.tensor([loss_sum.item(), len(rows)], dtype=torch.float64)
