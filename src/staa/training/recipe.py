"""The parts of an SER training recipe around the paper's loop: batches, augmentation, loss weights,
learning-rate schedule, early stopping.

:class:`staa.training.ser.TrainConfig` names the recipe (``TrainConfig.paper(model)`` keeps the paper's:
shuffled batches, no augmentation, plain cross-entropy, constant lr, every epoch); the SER epoch
(:mod:`staa.training.ser`) and the loop (:mod:`staa.training.loop`: optimiser, early stopping) ask this
module for each piece. Every random choice is derived from (seed, epoch, step) alone, so a resumed run draws
what the uninterrupted one would have, and every torchrun rank draws the same global batch and slices it.

* ``balance="sampler"``: each epoch holds as many clips as the training split, an equal share per class
  (:func:`balanced_order`): the small classes' clips come more than once, the large classes' are
  spread over consecutive epochs, each clip once before any repeats. ``"loss"``: plain
  shuffled epochs, cross-entropy weighted by n / (C · n_c) per class. Either keeps a majority class
  from dominating the loss, which matters for UAR, the mean of the per-class recalls.
* ``schedule="cosine"``: linear warm-up over ``warmup_epochs`` from lr / steps to lr, then cosine decay
  to 0 at the last planned step; the lr is set afresh before every optimiser step from the step
  number, so resuming needs no scheduler state.
* ``weight_decay`` > 0: AdamW (decoupled decay) instead of the paper's Adam.
* ``patience``: stop when the validation UAR has not beaten its best for that many epochs; ``best/``
  already holds the selected epoch.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn

from staa.data import augment
from staa.data.augment import Augmentation
from staa.data.cache import Split

BALANCES = ("none", "sampler", "loss")
SCHEDULES = ("constant", "cosine")
#: The recipe's fields of a training config; at their defaults they switch their part off (``init_from``:
#: the checkpoint a warm start copies its weights from, read by :mod:`staa.training.loop`).
FIELDS = ("warmup_epochs", "schedule", "weight_decay", "patience", "balance", "augment", "init_from")


class Recipe(Protocol):
    """The settings this module reads (fields of :class:`staa.training.ser.TrainConfig`)."""

    epochs: int
    lr: float
    batch_size: int
    seed: int
    warmup_epochs: int
    schedule: str
    weight_decay: float
    patience: int | None
    balance: str
    augment: Augmentation | None


def left_at_default(cfg: Recipe, name: str) -> bool:
    """Whether ``name`` is a recipe field that ``cfg`` leaves at its default (that part switched off)."""
    if name not in FIELDS:
        return False
    default = next(f.default for f in dataclasses.fields(cfg) if f.name == name)  # type: ignore[arg-type]
    return getattr(cfg, name) == default


def generator(seed: int, *keys: int) -> torch.Generator:
    """A torch generator seeded from (seed, keys...) through NumPy's SeedSequence (no collisions)."""
    state = np.random.SeedSequence([seed % 2**32, *keys]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def epoch_batches(labels: np.ndarray, cfg: Recipe, epoch: int) -> list[list[int]]:
    """The global batches of one epoch (indices into the training split)."""
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)  # the paper loop's shuffle, kept as it was
    if cfg.balance == "sampler":
        order = balanced_order(labels, cfg.seed, epoch)
    else:
        order = torch.randperm(len(labels), generator=gen).tolist()
    return [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]


def balanced_order(labels: np.ndarray, seed: int, epoch: int) -> list[int]:
    """``len(labels)`` indices, an equal share per present class, shuffled.

    Each class reads its share from an endless stream of random orders of its clips (one order per lap,
    seeded by (seed, class, lap)), continuing where the previous epoch stopped: a large class shows every
    clip once before it repeats one, a small class repeats its clips as often as its share needs. The
    remainder of ``len(labels) / classes`` goes to different classes in turn.
    """
    classes = np.unique(labels)
    base, extra = divmod(len(labels), len(classes))

    def share(i: int, e: int) -> int:
        return base + int((i - e) % len(classes) < extra)

    picked: list[int] = []
    for i, c in enumerate(classes):
        members = np.flatnonzero(labels == c)
        start = sum(share(i, e) for e in range(epoch))
        stop = start + share(i, epoch)
        laps = range(start // len(members), -(-stop // len(members)))
        stream = np.concatenate(
            [members[torch.randperm(len(members), generator=generator(seed, 1, int(c), lap)).numpy()] for lap in laps]
        )
        offset = laps.start * len(members)
        picked += stream[start - offset : stop - offset].tolist()
    shuffle = torch.randperm(len(picked), generator=generator(seed, 2, epoch)).tolist()
    return [picked[i] for i in shuffle]


def class_weights(labels: np.ndarray, num_classes: int) -> Tensor:
    """n / (C · n_c) for the classes present, 0 for absent ones: every present class weighs the same."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = len(labels) / (present.sum() * counts[present])
    return torch.from_numpy(weights)


def batch_loss_weights(labels: np.ndarray, batch: list[int], cfg: Recipe) -> Tensor:
    """Per-clip weights of the global ``batch`` (indices into ``labels``), summing to 1: its mean
    cross-entropy, class-weighted by :func:`class_weights` of all ``labels`` when ``balance="loss"``."""
    if cfg.balance != "loss":
        return torch.full((len(batch),), 1.0 / len(batch), dtype=torch.float64)
    w = class_weights(labels, int(labels.max()) + 1)[torch.as_tensor(labels[batch], dtype=torch.long)]
    return w / w.sum()


def load_rows(
    split: Split, batch: list[int], positions: list[int], cfg: Recipe, key: tuple[int, int], sample_rate: int
) -> Tensor:
    """The clips at ``positions`` of the global ``batch``, augmented when the recipe says so.

    The augmentation draw covers the whole global batch (seeded by (seed, epoch, step) = ``key``), and
    the rows are cut from it, so each clip gets the same change whichever rank loads it.
    """
    rows = [batch[p] for p in positions]
    x = torch.from_numpy(split.waves[rows].astype("float32", copy=False))
    if cfg.augment is None:
        return x
    crop = augment.crop_length(cfg.augment, split.waves.shape[-1], sample_rate)
    d = augment.draw(cfg.augment, split.labels[batch], split.labels, crop, generator(cfg.seed, *key)).rows(positions)
    partners = None
    if bool((d.partner >= 0).any()):
        idx = d.partner.clamp_min(0).numpy()
        partners = torch.from_numpy(split.waves[idx].astype("float32", copy=False))
    return augment.apply(x, d, partners)


def learning_rate(cfg: Recipe, step: int, total_steps: int) -> float:
    """The lr before optimiser step ``step`` (0-based) of ``total_steps``."""
    if cfg.schedule == "constant" and cfg.warmup_epochs == 0:
        return cfg.lr
    steps_per_epoch = total_steps / cfg.epochs
    warmup = cfg.warmup_epochs * steps_per_epoch
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - warmup) / max(1.0, total_steps - warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def optimizer(model: nn.Module, cfg: Recipe) -> torch.optim.Optimizer:
    """Adam (the paper), or AdamW with decoupled weight decay when ``weight_decay`` > 0."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.weight_decay > 0:
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr)


def stop_early(history: list[dict], patience: int | None) -> bool:
    """True when the last ``patience`` epochs all failed to beat the best validation UAR before them."""
    if patience is None or len(history) <= patience:
        return False
    uars = [h["val_uar"] for h in history]
    return max(uars[-patience:]) <= max(uars[:-patience])
