"""Adversarial training of an SER model (Madry et al., 2018; Goodfellow et al.'s clean/adversarial mix).

Each training batch has a share ``adv_fraction`` of its clips replaced by adversarial versions crafted
against the current model (by default sparse or dense PGD on the true labels, cross-entropy loss, no
early stop: a strong inner maximisation), and the model takes one cross-entropy step on the mixed
batch. ``adv_fraction = 1`` is Madry's pure min-max, ``0`` is standard training with the very same
loop, data order and selection, which makes it the fair baseline for "did robustness improve?".

The checkpoint format is :func:`staa.train.train_ser`'s: ``best/`` (safetensors, selected on validation
UAR), ``last.pt`` (resume state written after every epoch) and ``train.json``. The attack is rebuilt
every epoch with a seed derived from (seed, epoch), so a resumed run crafts the same examples as an
uninterrupted one. Single process only (no torchrun).
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from staa.attacks.base import Attack
from staa.attacks.registry import attack_class
from staa.checkpoint import load_state
from staa.data.cache import PreparedCorpus, Split
from staa.defaults import DEFAULT_EPS
from staa.errors import ConfigError, DataError
from staa.models.base import SERModel
from staa.progress import progress
from staa.reproducibility import seed_everything
from staa.train import TrainConfig, end_epoch, evaluate_ser, restore_state, train_result


def _pgd_defaults() -> dict[str, Any]:
    return {"steps": 5, "loss": "ce", "early_stop": False}


@dataclass
class AdvTrainConfig(TrainConfig):
    """:class:`~staa.train.TrainConfig` plus the attack that crafts the training examples.

    ``attack_options`` are passed to the attack's constructor (``k_percent`` for a sparse budget,
    ``steps``, ``alpha``, ``loss`` ...); ``eps`` is its L∞ bound.
    """

    attack: str = "pgd"
    eps: float = DEFAULT_EPS
    attack_options: dict[str, Any] = field(default_factory=_pgd_defaults)
    adv_fraction: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.adv_fraction <= 1:
            raise ConfigError(f"adv_fraction must be in [0, 1], got {self.adv_fraction}")
        if not 0 < self.eps <= 1:
            raise ConfigError(f"eps must be in (0, 1], got {self.eps}")


def build_training_attack(model: nn.Module, cfg: AdvTrainConfig, epoch: int) -> Attack:
    """The configured attack on ``model``, seeded by (seed, epoch) when the attack takes a seed."""
    cls = attack_class(cfg.attack)
    options = dict(cfg.attack_options)
    if "seed" in inspect.signature(cls.__init__).parameters:
        options["seed"] = cfg.seed * 1000 + epoch
    try:
        return cls(model, cfg.eps, **options)
    except TypeError as exc:
        raise ConfigError(f"attack '{cfg.attack}': {exc}") from None


def adversarial_train(
    model: SERModel,
    corpus: PreparedCorpus,
    out_dir: str | Path,
    config: AdvTrainConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    show_progress: bool = True,
) -> dict[str, Any]:
    """Train ``model`` on clean + adversarial batches; select on val UAR; resume from ``out_dir/last.pt``."""
    cfg = config or AdvTrainConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    model.to(device)
    train, val = corpus.split("train"), corpus.split("val")
    if len(train) == 0:
        raise DataError("the training split is empty", corpus.path)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    history: list[dict[str, Any]] = []
    best_uar, start_epoch = -1.0, 0
    state = load_state(out / "last.pt")
    if state is not None:
        restore_state(model, optimizer, state, out / "last.pt")
        history, best_uar, start_epoch = state["history"], state["best_uar"], state["epoch"] + 1
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        epoch_stats = _adversarial_epoch(model, optimizer, train, cfg, epoch, torch.device(device), show_progress)
        seconds = time.perf_counter() - t0
        metrics = evaluate_ser(model, val, cfg.eval_batch_size, device)
        history.append(
            {
                "epoch": epoch + 1,
                **epoch_stats,
                "seconds": seconds,
                "val_uar": metrics["uar"],
                "val_accuracy": metrics["accuracy"],
            }
        )
        best_uar = end_epoch(model, optimizer, out, history, best_uar, epoch)
    return train_result(out, model, corpus, cfg, history, best_uar)


def _adversarial_epoch(
    model: SERModel,
    optimizer: torch.optim.Optimizer,
    train: Split,
    cfg: AdvTrainConfig,
    epoch: int,
    device: torch.device,
    show: bool,
) -> dict[str, float | None]:
    """One shuffled pass over mixed batches; mean loss and the attack's success on the clips it crafted.

    Shuffle and the choice of adversarial rows depend only on (seed, epoch), as in ``train_ser``.
    """
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
    order = torch.randperm(len(train), generator=gen)
    attack = build_training_attack(model, cfg, epoch)
    loss_sum, fooled, crafted = 0.0, 0, 0
    for rows in progress(order.split(cfg.batch_size), f"adv epoch {epoch + 1}/{cfg.epochs}", show):
        rows = rows.sort().values.numpy()
        x = torch.from_numpy(train.waves[rows].astype("float32", copy=False)).to(device)
        y = torch.as_tensor(train.labels[rows], dtype=torch.long, device=device)
        n_adv = round(cfg.adv_fraction * len(rows))
        if n_adv:
            pick = torch.randperm(len(rows), generator=gen)[:n_adv].to(device)
            result = attack(x[pick], y[pick])
            x = x.index_copy(0, pick, result.x_adv.to(device))
            fooled, crafted = fooled + int(result.success.sum()), crafted + n_adv
        model.train()
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(rows)
    return {"loss": loss_sum / len(train), "train_attack_success": fooled / crafted if crafted else None}
