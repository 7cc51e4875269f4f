"""SER training: cross-entropy, Adam, model selection on validation UAR; the paper's recipe or another.

One epoch = one pass over the training split in the batches, with the augmentation, loss weights and
learning rate of the recipe that :class:`TrainConfig` names (:mod:`staa.training.recipe`; the paper's:
shuffled batches of 8, plain clips, constant lr 1e-3). The loop around it (resume from ``last.pt``,
``best/`` on validation UAR, ``train.json``) is :func:`staa.training.loop.fit`, shared with adversarial
training, so a killed run continues from its last finished epoch and ends with the same numbers.

Under ``torchrun`` the same loop runs data-parallel (see :mod:`staa.runtime.distributed`): each global batch
of ``batch_size`` examples is split across ranks, gradients are averaged by DDP, batch norm uses the
global batch, and validation predictions are gathered, so N ranks reproduce one process. Only rank 0
writes files and shows progress.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from staa import validation
from staa.audio import SAMPLE_RATE
from staa.data.augment import Augmentation
from staa.data.cache import PreparedCorpus, Split
from staa.errors import ConfigError, DataError
from staa.metrics import accuracy, confusion_matrix, uar
from staa.models.base import SERModel
from staa.runtime import distributed as ddp
from staa.runtime.progress import progress
from staa.training import recipe
from staa.training.loop import fit
from staa.uncertainty import accuracy_interval, uar_interval
from staa.validation import number


@dataclass
class TrainConfig:
    """SER training settings; the defaults are the paper's schedule for scratch models (§4.2).

    The recipe fields (``warmup_epochs`` … ``augment``) are read by :mod:`staa.training.recipe`; their
    defaults switch every part off. ``init_from`` names a checkpoint folder of the same architecture to
    start from instead of the model's own initial weights (:func:`staa.models.warm_start.warm_start`:
    the output rows of classes the checkpoint does not name start fresh), e.g. a model pre-trained on
    more speech. Two named recipes (:data:`TRAINING_RECIPES`): :meth:`paper` and
    :meth:`small_corpus` (for corpora of a few speakers), both by model class, as :meth:`preset`.
    """

    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 8
    seed: int = 0
    eval_batch_size: int = 32
    warmup_epochs: int = 0
    schedule: str = "constant"
    weight_decay: float = 0.0
    patience: int | None = None
    balance: str = "none"
    augment: Augmentation | None = None
    init_from: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = Augmentation.from_dict(self.augment)
        if isinstance(self.init_from, Path):
            self.init_from = str(self.init_from)
        if self.init_from is not None and (not isinstance(self.init_from, str) or not self.init_from.strip()):
            raise ConfigError(f"init_from: must be a checkpoint folder or null, got {self.init_from!r}")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            number(name, getattr(self, name), integer=True, low=1, high=1_000_000)
        number("learning rate", self.lr, low=0, high=10, low_open=True)
        validation.seed("seed", self.seed)
        number("warmup_epochs", self.warmup_epochs, integer=True, low=0, high=self.epochs - 1)
        number("weight_decay", self.weight_decay, low=0, high=10)
        if self.patience is not None:
            number("patience", self.patience, integer=True, low=1, high=1_000_000)
        for name, allowed in (("schedule", recipe.SCHEDULES), ("balance", recipe.BALANCES)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}: must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.augment is not None and not isinstance(self.augment, Augmentation):
            raise ConfigError(f"augment: must be a mapping of augmentation settings or null, got {self.augment!r}")

    @classmethod
    def paper(cls, model: type[SERModel], **overrides: Any) -> TrainConfig:
        """The paper's schedule for a ``model`` class: 30 epochs at lr 1e-3 from scratch, 20 epochs at 3e-5
        when it fine-tunes a pretrained encoder; ``overrides`` (None values ignored) change any field."""
        schedule = {"epochs": 20, "lr": 3e-5} if model.fine_tunes_pretrained else {}
        return cls(**{**schedule, **{k: v for k, v in overrides.items() if v is not None}})

    @classmethod
    def small_corpus(cls, model: type[SERModel], **overrides: Any) -> TrainConfig:
        """For corpora of two to a few dozen speakers (the EmoDB and RAVDESS subsets): waveform augmentation,
        class-balanced batches, warm-up then cosine decay, weight decay, early stopping on validation UAR
        (:data:`SMALL_CORPUS`); a pretrained encoder keeps the paper's lr 3e-5. Measured against
        :meth:`paper` by ``research/ser_recipe.py``. A partial ``augment`` mapping changes some strengths."""
        settings: dict[str, Any] = {**SMALL_CORPUS, **({"lr": 3e-5} if model.fine_tunes_pretrained else {})}
        given = {k: v for k, v in overrides.items() if v is not None}
        if isinstance(given.get("augment"), dict):
            given["augment"] = {**SMALL_CORPUS["augment"], **given["augment"]}
        return replace(cls(**settings), **given)

    @classmethod
    def pooled(cls, **overrides: Any) -> TrainConfig:
        """Pre-training on pooled corpora (:mod:`staa.training.pretrain`, :data:`POOLED_PRETRAINING`); a
        partial ``augment`` mapping changes some strengths; a one-epoch run has no warm-up epoch."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if isinstance(given.get("augment"), dict):
            given["augment"] = {**POOLED_PRETRAINING["augment"], **given["augment"]}
        if given.get("epochs") == 1:
            given.setdefault("warmup_epochs", 0)
        return cls(**{**POOLED_PRETRAINING, **given})

    @classmethod
    def preset(cls, name: str, model: type[SERModel], **overrides: Any) -> TrainConfig:
        """A recipe of :data:`TRAINING_RECIPES` by name for a ``model`` class, with some fields changed."""
        if name not in TRAINING_RECIPES:
            raise ConfigError(f"unknown SER training recipe '{name}' (available: {', '.join(TRAINING_RECIPES)})")
        return getattr(cls, name)(model, **overrides)


TRAINING_RECIPES = ("paper", "small_corpus")
#: Pre-training on pooled corpora: random 1 s crops, batches of 16, one warm-up epoch then cosine decay. 16
#: epochs: twice 8 gave the fine-tuned Emo18 2.7–3.5 points more validation UAR on EmoDB
#: (docs/results/ser-full-corpora.md).
POOLED_PRETRAINING: dict[str, Any] = {
    "epochs": 16,
    "lr": 1e-3,
    "batch_size": 16,
    "warmup_epochs": 1,
    "schedule": "cosine",
    "augment": {"speed": 0.0, "gain_db": 0.0, "noise_prob": 0.0, "crop_seconds": 1.0},
}
#: The small-corpus recipe; see :mod:`staa.training.recipe` for what each setting does.
#: As many epochs as the shipped experiments trained with before (20), so that it costs no more CPU time.
SMALL_CORPUS: dict[str, Any] = {
    "epochs": 20,
    "lr": 1e-3,
    "warmup_epochs": 2,
    "schedule": "cosine",
    "weight_decay": 1e-2,
    "patience": 8,
    "balance": "sampler",
    "augment": {"speed": 0.1, "gain_db": 6.0, "noise_prob": 0.5, "snr_db": (10.0, 30.0), "mix_prob": 0.25},
}


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


def evaluate_ser(
    model: SERModel, split: Split, batch_size: int = 32, device: str | torch.device = "cpu", *, intervals: bool = True
) -> dict:
    """Accuracy, UAR and confusion matrix of ``model`` on a prepared split.

    UAR averages recall over the classes present in the split; a class absent from it is listed in
    ``absent_classes`` and a warning is issued, because such a UAR is not comparable with one over all.
    With ``intervals`` (the default; training's per-epoch validation skips them), ``uar_ci`` and
    ``accuracy_ci`` hold the 95 % bootstrap intervals over the split's clips (:mod:`staa.uncertainty`).
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
    result = {
        "n": len(labels),
        "accuracy": accuracy(pred, labels),
        "uar": uar(pred, labels, model.num_classes),
        "confusion": confusion_matrix(pred, labels, model.num_classes).tolist(),
        "absent_classes": absent,
    }
    if intervals:
        result["uar_ci"] = uar_interval(pred, labels, model.num_classes).to_dict()
        result["accuracy_ci"] = accuracy_interval(pred, labels).to_dict()
    return result


def validate_ser(model: SERModel, split: Split, batch_size: int, device: torch.device) -> dict:
    """The per-epoch validation of the loop: :func:`evaluate_ser` without the intervals (2000 redraws an epoch)."""
    return evaluate_ser(model, split, batch_size, device, intervals=False)


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
    epoch = functools.partial(_train_epoch, cfg, corpus.sample_rate)
    return fit(model, corpus, out_dir, cfg, epoch, validate_ser, device=device, show_progress=show_progress,
               overwrite=overwrite)  # fmt: skip


def _train_epoch(
    cfg: TrainConfig,
    sample_rate: int,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Split,
    epoch: int,
    device: torch.device,
    show: bool,
) -> dict[str, float]:
    """One pass of the recipe's batches; the mean training loss over the whole split (all ranks) and the clips seen.

    Batches, augmentation and lr depend only on (seed, epoch, step) (see :mod:`staa.training.recipe`), so
    every rank draws the same global batches and a resumed run draws the ones the uninterrupted run would have.
    """
    net.train()
    batches = recipe.epoch_batches(train.labels, cfg, epoch)
    sizes = [len(b) for b in batches]
    total = torch.zeros(2, dtype=torch.float64)
    steps = cfg.epochs * len(batches)
    for step, batch in enumerate(progress(batches, f"epoch {epoch + 1}/{cfg.epochs}", show, sizes=sizes, unit="clips")):
        recipe.set_learning_rate(optimizer, recipe.learning_rate(cfg, epoch * len(batches) + step, steps))
        optimizer.zero_grad(set_to_none=True)
        total += backward_global_batch(net, train, batch, device, cfg, (epoch, step), sample_rate)
        optimizer.step()
    total = ddp.all_reduce_sum(total.to(device)).cpu()
    return {"loss": float(total[0] / total[1]), "clips": sum(sizes)}


def backward_global_batch(
    net: nn.Module,
    split: Split,
    batch: list[int],
    device: torch.device,
    cfg: TrainConfig | None = None,
    key: tuple[int, int] = (0, 0),
    sample_rate: int = SAMPLE_RATE,
) -> torch.Tensor:
    """Accumulate into ``net``'s gradients this rank's share of the global batch's (weighted) mean loss.

    The rank takes the strided positions ``rank::world_size`` of ``batch`` (augmented as the recipe
    ``cfg`` says, with the draw of step ``key`` = (epoch, step)) and weighs each clip's cross-entropy by
    its share of the global mean, times the world size because DDP averages gradients over ranks: the
    sum over ranks is exactly the global batch's gradient. Returns (summed loss, rows) of this rank.
    """
    cfg = cfg or TrainConfig()
    ws = ddp.world_size()
    positions = sorted(range(ddp.rank(), len(batch), ws), key=lambda p: batch[p])
    weights = recipe.batch_loss_weights(split.labels, batch, cfg)[positions]
    x = recipe.load_rows(split, batch, positions, cfg, key, sample_rate).to(device)
    y = torch.as_tensor(split.labels[[batch[p] for p in positions]], dtype=torch.long, device=device)
    losses = nn.functional.cross_entropy(net(x), y, reduction="none")
    (losses * (ws * weights.to(losses))).sum().backward()
    return torch.tensor([losses.detach().sum().item(), len(positions)], dtype=torch.float64)
