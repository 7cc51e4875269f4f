"""SER training as in the paper: cross-entropy, Adam, batch 8, model selection on validation UAR.

One epoch = one shuffled pass over the training split; the loop around it (resume from ``last.pt``,
``best/`` on validation UAR, ``train.json``) is :func:`staa.training.loop.fit`, shared with adversarial
training, so a killed run continues from its last finished epoch and ends with the same numbers.

Under ``torchrun`` the same loop runs data-parallel (see :mod:`staa.distributed`): each global batch
of ``batch_size`` examples is split across ranks, gradients are averaged by DDP, batch norm uses the
global batch, and validation predictions are gathered, so N ranks reproduce one process. Only rank 0
writes files and shows progress.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from staa import distributed as ddp
from staa import validation
from staa.data.cache import PreparedCorpus, Split
from staa.errors import DataError
from staa.metrics import accuracy, confusion_matrix, uar
from staa.models.base import SERModel
from staa.progress import progress
from staa.training.loop import fit
from staa.validation import number


@dataclass
class TrainConfig:
    """The paper's schedule for scratch models; :meth:`paper` picks it for any model (§4.2)."""

    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 8
    seed: int = 0
    eval_batch_size: int = 32

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            number(name, getattr(self, name), integer=True, low=1, high=1_000_000)
        number("learning rate", self.lr, low=0, high=10, low_open=True)
        validation.seed("seed", self.seed)

    @classmethod
    def paper(cls, model: type[SERModel], **overrides: Any) -> TrainConfig:
        """The paper's schedule for a ``model`` class: 30 epochs at lr 1e-3 from scratch, 20 epochs at 3e-5
        when it fine-tunes a pretrained encoder; ``overrides`` (None values ignored) change any field."""
        schedule = {"epochs": 20, "lr": 3e-5} if model.fine_tunes_pretrained else {}
        return cls(**{**schedule, **{k: v for k, v in overrides.items() if v is not None}})


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
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train ``model`` on ``corpus``'s train split, select on val UAR; resume from ``out_dir/last.pt``."""
    cfg = config or TrainConfig()
    return fit(model, corpus, out_dir, cfg, functools.partial(_train_epoch, cfg), evaluate_ser, device=device,
               show_progress=show_progress, overwrite=overwrite)  # fmt: skip


def _train_epoch(
    cfg: TrainConfig,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Split,
    epoch: int,
    device: torch.device,
    show: bool,
) -> dict[str, float]:
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
    return {"loss": float(total[0] / total[1])}


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
