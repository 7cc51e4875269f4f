"""Adversarial training of an SER model (Madry et al., 2018; Goodfellow et al.'s clean/adversarial mix).

Each training batch has a share ``adv_fraction`` of its clips replaced by adversarial versions crafted
against the current model (by default sparse or dense PGD on the true labels, cross-entropy loss, no
early stop: a strong inner maximisation), and the model takes one cross-entropy step on the mixed
batch. ``adv_fraction = 1`` is Madry's pure min-max, ``0`` is standard training with the very same
loop, data order and selection, which makes it the fair baseline for "did robustness improve?".

The loop, and with it the checkpoint format, is :func:`staa.training.ser.train_ser`'s
(:func:`staa.training.loop.fit`): ``best/`` (safetensors, selected on validation UAR), ``last.pt``
(resume state written after every epoch) and ``train.json``. The attack is rebuilt every epoch with a
seed derived from (seed, epoch), so a resumed run crafts the same examples as an uninterrupted one.
Single process only: under torchrun it is refused. Of the recipe (:mod:`staa.training.recipe`) it takes
the optimiser, the learning-rate schedule and early stopping, not augmentation or balanced batches.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from staa.attacks.base import Attack
from staa.attacks.registry import accepts, attack_class, public_attack
from staa.data.cache import PreparedCorpus, Split
from staa.defaults import DEFAULT_EPS
from staa.errors import ConfigError
from staa.models.base import SERModel
from staa.runtime.progress import progress
from staa.training import recipe
from staa.training.loop import fit
from staa.training.ser import TrainConfig, evaluate_ser
from staa.validation import number


def _pgd_defaults() -> dict[str, Any]:
    """The inner maximisation's defaults: cross-entropy on the true labels, 5 steps, no early stop."""
    return {"steps": 5, "loss": "ce", "early_stop": False}


@dataclass
class AdvTrainConfig(TrainConfig):
    """:class:`~staa.training.ser.TrainConfig` plus the attack that crafts the training examples.

    ``attack_options`` are passed to the attack's constructor (``k_percent`` for a sparse budget,
    ``steps``, ``alpha``, ``loss`` ...); ``eps`` is its L∞ bound (default :data:`staa.defaults.DEFAULT_EPS`).
    """

    attack: str = "pgd"
    eps: float = DEFAULT_EPS
    attack_options: dict[str, Any] = field(default_factory=_pgd_defaults)
    adv_fraction: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        number("adv_fraction", self.adv_fraction, low=0, high=1)
        if self.augment is not None or self.balance != "none":
            raise ConfigError(
                "adversarial training takes plain shuffled batches: augment and balance are not supported"
            )
        number("eps", self.eps, low=0, high=1, low_open=True)
        public_attack(self.attack)
        if not isinstance(self.attack_options, dict):
            raise ConfigError(f"attack options must be a mapping, got {self.attack_options!r}")

    @classmethod
    def with_attack(cls, attack: str, options: dict[str, Any] | None = None, **fields: Any) -> AdvTrainConfig:
        """A config whose attack ``options`` extend the inner-maximisation defaults when ``attack`` is the
        default PGD, so that an experiment file and ``staa defense adv-train`` name only what they change."""
        defaults = _pgd_defaults() if attack == cls.attack else {}
        return cls(attack=attack, attack_options={**defaults, **(options or {})}, **fields)


def build_training_attack(model: nn.Module, cfg: AdvTrainConfig, epoch: int) -> Attack:
    """The configured attack on ``model``, seeded by (seed, epoch) when the attack takes a seed."""
    cls = attack_class(cfg.attack)
    options = dict(cfg.attack_options)
    if accepts(cfg.attack, "seed"):
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
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train ``model`` on clean + adversarial batches; select on val UAR; resume from ``out_dir/last.pt``.

    The training attack is built once before anything else, so a bad attack option is refused up front.
    """
    cfg = config or AdvTrainConfig()
    build_training_attack(model, cfg, 0)
    return fit(model, corpus, out_dir, cfg, functools.partial(_adversarial_epoch, cfg), evaluate_ser, device=device,
               show_progress=show_progress, data_parallel=False, overwrite=overwrite)  # fmt: skip


def _adversarial_epoch(
    cfg: AdvTrainConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Split,
    epoch: int,
    device: torch.device,
    show: bool,
) -> dict[str, float | None]:
    """One shuffled pass over mixed batches; mean loss and the attack's success on the clips it crafted.

    Shuffle and the choice of adversarial rows depend only on (seed, epoch), as in ``train_ser``; ``model``
    is the bare model (this loop is single-process).
    """
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
    order = torch.randperm(len(train), generator=gen)
    attack = build_training_attack(model, cfg, epoch)
    loss_sum, fooled, crafted = 0.0, 0, 0
    batches = order.split(cfg.batch_size)
    sizes, steps = [len(b) for b in batches], cfg.epochs * len(batches)
    for step, rows in enumerate(
        progress(batches, f"adv epoch {epoch + 1}/{cfg.epochs}", show, sizes=sizes, unit="clips")
    ):
        recipe.set_learning_rate(optimizer, recipe.learning_rate(cfg, epoch * len(batches) + step, steps))
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
