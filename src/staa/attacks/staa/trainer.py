"""Training the STAA-Net generator against frozen threat SER models (paper §3.2.4, §4.4).

Each step: the threat model labels the clean batch (untargeted: its own prediction, the paper's
protocol; with an ensemble, the *first* model's prediction, so that every member is pushed away from
one common label), the generator in train mode perturbs it, every threat model classifies x_adv, and
Adam minimises Eq. 7 with the C&W term averaged over the ensemble. StepLR halves the learning rate
every 5 epochs. After each epoch the generator (eval mode, binary mask) attacks the validation split:
white-box ASR on the first threat model, mean sparsity and SNR of x_adv − x over successful clips
(:mod:`staa.metrics`) decide ``best/`` — among the epochs that meet every budget a callback checks
(``record["budget_met"]``), when any does; ``last/`` and ``state.pt`` are rewritten every epoch, so a
killed run resumes from its last finished epoch.

The loss weights are read from the config at every step, and ``callbacks`` run after every epoch with
``(epoch, record, config)``: a callback may change ``config.lambda_s`` (a sparsity-budget controller)
and the change is used by the next epoch, recorded in the history and restored on resume.

Under torchrun each global batch of ``batch_size`` clips is split across ranks, gradients are
averaged with weights proportional to each rank's share (so N ranks take the step one process takes),
batch norm (``norm="bn"``) uses the global batch, and validation shards are gathered so that every
rank computes — and every callback sees — the same metrics. Only rank 0 writes and shows progress.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from staa import distributed as ddp
from staa.attacks.base import frozen
from staa.attacks.staa.generator import Generator
from staa.attacks.staa.losses import LossWeights, staa_loss
from staa.checkpoint import load_state, save_state
from staa.data.cache import PreparedCorpus, Split
from staa.errors import CheckpointError, ConfigError, DataError
from staa.metrics import attack_success_rate, mean_snr, snr_db, sparsity
from staa.models.base import SERModel
from staa.outputs import write_json
from staa.progress import progress
from staa.reproducibility import provenance, seed_everything


@dataclass
class STAATrainConfig:
    """Loss weights, optimisation and ablation switches of generator training (paper defaults).

    Ablations (paper Table 6): ``no_magnitude`` sets λ_m = 0, ``no_sparsity`` λ_s = 0,
    ``no_quantisation`` λ_q = 0; ``no_factorisation`` needs a generator built with
    ``factorised=False`` (δ = v dense), puts the sparsity loss on v (‖v‖₁) and drops the
    quantisation loss.

    ``warmup_epochs``: the first epochs train with λ_s = λ_q = 0 (the adversarial and magnitude terms
    only), then the configured weights apply. With the paper's weights from the first step, the
    position map of a fresh generator can empty within the first epoch, before the adversarial term
    has found any use for it (the mask then stays empty: 0 % ASR); whether it does depends on the
    initial weights — in the demo, one seed trained to 87.5 % ASR and another collapsed. Letting the
    mask first learn where to attack removes that lottery. 0 (the paper) keeps the weights throughout;
    budget controllers start after the warm-up, and warm-up epochs are never selected as ``best``.

    Memory, for the authors' network on long clips — the same steps in less memory: ``checkpointing``
    recomputes the generator's activations in the backward pass instead of storing them
    (:meth:`Generator.checkpoint_activations`; it stays switched on in the generator after training);
    ``micro_batch`` accumulates each batch's gradient over parts of that many clips. Both need a
    generator without batch norm (its statistics would change); every other layer, GroupNorm included,
    treats each clip on its own, so the gradient is the full batch's.
    """

    lambda_m: float = 1e-3
    lambda_s: float = 1e-4
    lambda_q: float = 1e-4
    kappa: float = 0.0
    lr: float = 1e-4
    step_size: int = 5
    gamma_lr: float = 0.5
    epochs: int = 20
    batch_size: int = 8
    seed: int = 0
    targeted: bool = False
    target_class: int | None = None
    no_factorisation: bool = False
    no_magnitude: bool = False
    no_sparsity: bool = False
    no_quantisation: bool = False
    eval_batch_size: int = 16
    checkpointing: bool = False
    warmup_epochs: int = 0
    micro_batch: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1 or self.step_size < 1:
            raise ConfigError("generator training: epochs, batch sizes and step_size must be ≥ 1")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ConfigError(f"generator training: warmup_epochs must be in [0, epochs), got {self.warmup_epochs}")
        if self.micro_batch is not None and self.micro_batch < 1:
            raise ConfigError(f"generator training: micro_batch must be ≥ 1, got {self.micro_batch}")
        if not self.lr > 0 or not 0 < self.gamma_lr <= 1:
            raise ConfigError(f"generator training: need lr > 0 and gamma_lr in (0, 1], got {self.lr}, {self.gamma_lr}")
        if min(self.lambda_m, self.lambda_s, self.lambda_q, self.kappa) < 0:
            raise ConfigError("generator training: loss weights and kappa must be ≥ 0")
        if self.targeted != (self.target_class is not None):
            raise ConfigError("generator training: a targeted attack needs target_class, an untargeted one none")

    def weights(self) -> LossWeights:
        """The λs of Eq. 7 after the ablation switches, read afresh at every step."""
        return LossWeights(
            magnitude=0.0 if self.no_magnitude else self.lambda_m,
            sparsity=0.0 if self.no_sparsity else self.lambda_s,
            quantisation=0.0 if self.no_quantisation or self.no_factorisation else self.lambda_q,
            factorised=not self.no_factorisation,
        )

    @classmethod
    def paper(cls, **overrides: Any) -> STAATrainConfig:
        """§4.4: λ_m 1e-3, λ_s 1e-4, λ_q 1e-4, Adam lr 1e-4, StepLR(5, 0.5), 20 epochs, batch 8."""
        return cls(**overrides)

    @classmethod
    def authors(cls, **overrides: Any) -> STAATrainConfig:
        """The authors' script defaults (official-code.md §4.3): λ_m 0, λ_s 0.1, λ_q 1e-6, lr 1e-3."""
        return cls(**{"lambda_m": 0.0, "lambda_s": 0.1, "lambda_q": 1e-6, "lr": 1e-3, **overrides})

    PRESETS = ("paper", "authors")  # no annotation: a class constant, not a dataclass field

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> STAATrainConfig:
        """The training preset ``name`` (one of :attr:`PRESETS`) with ``overrides``.

        The one lookup by name that experiment files and the CLI share.
        """
        if name not in cls.PRESETS:
            raise ConfigError(f"unknown training preset '{name}' (expected {', '.join(cls.PRESETS)})")
        return getattr(cls, name)(**overrides)


Callback = Callable[[int, dict, STAATrainConfig], None]
LAMBDAS = ("lambda_m", "lambda_s", "lambda_q")


def train_generator(
    generator: Generator,
    threat_models: Sequence[SERModel],
    corpus: PreparedCorpus,
    out_dir: str | Path,
    config: STAATrainConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    show_progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train ``generator`` to fool ``threat_models`` on ``corpus``; write best/, last/, train.json in ``out_dir``."""
    cfg = config or STAATrainConfig.paper()
    _check(generator, threat_models, corpus, cfg)
    if cfg.checkpointing:
        generator.checkpoint_activations()
    ddp.setup(device)
    device = ddp.local_device(device)
    out = Path(out_dir)
    seed_everything(cfg.seed)
    generator.to(device)
    _broadcast_parameters(generator)
    for model in threat_models:
        model.to(device)
    optimizer = torch.optim.Adam(generator.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma_lr)
    history: list[dict] = []
    best: tuple[float, float, float] | None = None  # (budget met, ASR, −sparsity), compared in order
    start = 0
    state = load_state(out / "state.pt")
    if state is not None:
        best, start = _restore(generator, optimizer, scheduler, cfg, state, out / "state.pt")
        history = state["history"]
    train, val = corpus.split("train"), corpus.split("val")
    show = show_progress and ddp.is_main()
    with _frozen_all(threat_models):
        for epoch in range(start, cfg.epochs):
            t0 = time.perf_counter()
            warming = epoch < cfg.warmup_epochs
            epoch_cfg = replace(cfg, lambda_s=0.0, lambda_q=0.0) if warming else cfg
            with ddp.cross_rank_batchnorm(generator):
                losses = _train_epoch(generator, threat_models, train, optimizer, epoch_cfg, epoch, device, show)
            seconds = time.perf_counter() - t0
            scheduler.step()
            record = {
                "epoch": epoch + 1,
                **{f"loss_{k}": v for k, v in losses.items()},
                "seconds": seconds,
                "lr": optimizer.param_groups[0]["lr"],
                **{k: getattr(epoch_cfg, k) for k in LAMBDAS},
                **validate(generator, threat_models, val, cfg, device),
            }
            history.append(record)
            for callback in callbacks if not warming else ():
                callback(epoch, record, cfg)
            score = (float(record.get("budget_met", True)), record["val_asr"], -(record["val_sparsity_all"]))
            improved = not warming and (best is None or score > best)  # a warm-up mask is not the budget's
            best = score if improved else best
            if ddp.is_main():
                if improved:
                    generator.save_pretrained(out / "best")
                generator.save_pretrained(out / "last")
                save_state(
                    out / "state.pt",
                    generator=generator.state_dict(),
                    optimizer=optimizer.state_dict(),
                    scheduler=scheduler.state_dict(),
                    lambdas=torch.tensor([getattr(cfg, k) for k in LAMBDAS], dtype=torch.float64),
                    history=history,
                    best=torch.tensor(best if best is not None else (), dtype=torch.float64),  # empty in warm-up
                    epoch=epoch,
                )
            ddp.barrier()
    result = {
        "best": {"val_asr": best[1], "val_sparsity_all": -best[2], "budget_met": bool(best[0])} if best else None,
        "history": history,
        "train_config": asdict(cfg),
        "world_size": ddp.world_size(),
        "provenance": provenance(
            {
                "corpus": str(corpus.path),
                "generator": generator.config.to_dict(),
                "threat_models": [m.config.to_dict() for m in threat_models],
                "train": asdict(cfg),
            },
            cfg.seed,
        ),
    }
    if ddp.is_main():
        write_json(out / "train.json", result)
    ddp.barrier()
    return result


def _train_epoch(
    generator: Generator,
    threat_models: Sequence[SERModel],
    train: Split,
    optimizer: torch.optim.Optimizer,
    cfg: STAATrainConfig,
    epoch: int,
    device: torch.device,
    show: bool,
) -> dict[str, float]:
    """One shuffled pass; returns the mean of every loss term over the epoch's examples (all ranks)."""
    generator.train()
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)).tolist()
    batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
    sums: dict[str, float] = {}
    seen = 0
    for p in generator.parameters():  # every rank all-reduces the same gradient list, even with no rows
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    for batch in progress(batches, f"epoch {epoch + 1}/{cfg.epochs}", show):
        rows = sorted(batch[ddp.rank() :: ddp.world_size()])
        optimizer.zero_grad(set_to_none=False)
        if rows:
            x = torch.from_numpy(np.asarray(train.waves[rows], dtype=np.float32)).to(device)
            # weight by this rank's share so that averaging over ranks gives the global-batch mean
            means = backward_step(generator, threat_models, x, cfg, len(rows) * ddp.world_size() / len(batch))
            for k, v in means.items():
                sums[k] = sums.get(k, 0.0) + v * len(rows)
            seen += len(rows)
        ddp.all_reduce_mean_([p.grad for p in generator.parameters()])
        optimizer.step()
    names = ["adversarial", "magnitude", "sparsity", "total"] + (["quantisation"] if generator.config.factorised else [])
    totals = ddp.all_reduce_sum(torch.tensor([sums.get(k, 0.0) for k in names] + [seen], dtype=torch.float64, device=device))
    return {k: float(v) / max(1.0, float(totals[-1])) for k, v in zip(names, totals.tolist())}


def backward_step(
    generator: Generator, threat_models: Sequence[SERModel], x: Tensor, cfg: STAATrainConfig, weight: float = 1.0
) -> dict[str, float]:
    """Accumulate the gradient of ``weight`` × Eq. 7 on ``x`` into the generator; return each term's mean.

    In parts of ``cfg.micro_batch`` clips (all at once if None), each weighted by its share of ``x``,
    so that the accumulated gradient is the whole batch's while only one part's graph is alive.
    """
    step = cfg.micro_batch or len(x)
    sums: dict[str, float] = {}
    for start in range(0, len(x), step):
        part = x[start : start + step]
        terms = _step_loss(generator, threat_models, part, cfg)
        (terms["total"] * (weight * (len(part) / len(x)))).backward()
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(part)
    return {k: v / len(x) for k, v in sums.items()}


def _step_loss(generator: Generator, threat_models: Sequence[SERModel], x: Tensor, cfg: STAATrainConfig) -> dict:
    labels = _labels(threat_models[0], x, cfg)
    out = generator(x)
    logits = [model(out.x_adv) for model in threat_models]
    return staa_loss(
        logits,
        labels,
        out.magnitudes,
        out.mask,
        out.scores,
        cfg.weights(),
        gamma=generator.config.gamma,
        targeted=cfg.targeted,
        kappa=cfg.kappa,
    )


def _labels(model: SERModel, x: Tensor, cfg: STAATrainConfig) -> Tensor:
    """Targets (targeted) or the model's clean predictions (untargeted, the paper's protocol)."""
    if cfg.targeted:
        return torch.full((len(x),), int(cfg.target_class), dtype=torch.long, device=x.device)
    with torch.no_grad():
        return model(x).argmax(-1)


def validate(
    generator: Generator,
    threat_models: Sequence[SERModel],
    split: Split,
    cfg: STAATrainConfig,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """White-box ASR of the binary-mask generator on ``split`` (first threat model), sparsity and SNR.

    Sparsity and SNR are measured on x_adv − x, as for every attack; ``val_sparsity`` and
    ``val_snr_db`` average over successful clips (the paper), ``val_sparsity_all`` over all clips.
    """
    was_training = generator.training
    generator.eval()
    idx = ddp.shard_indices(len(split))
    parts: dict[str, list[Tensor]] = {"labels": [], "adv": [], "sparsity": [], "snr": []}
    with torch.no_grad():
        for i in range(0, len(idx), cfg.eval_batch_size):
            x = torch.from_numpy(np.asarray(split.waves[idx[i : i + cfg.eval_batch_size]], dtype=np.float32)).to(device)
            x_adv = generator(x).x_adv
            parts["labels"].append(_labels(threat_models[0], x, cfg))
            parts["adv"].append(threat_models[0](x_adv).argmax(-1))
            parts["sparsity"].append(sparsity(x_adv - x).to(device))
            parts["snr"].append(snr_db(x, x_adv - x).to(device))
    generator.train(was_training)
    empty = {"labels": torch.long, "adv": torch.long, "sparsity": torch.float64, "snr": torch.float64}
    cat = {
        k: ddp.gather_concat(torch.cat(v) if v else torch.zeros(0, dtype=empty[k], device=device), len(split)).cpu()
        for k, v in parts.items()
    }
    labels, adv = cat["labels"], cat["adv"]
    success = adv == labels if cfg.targeted else adv != labels
    snr = mean_snr(cat["snr"][success])
    return {
        "val_asr": attack_success_rate(labels, adv, labels if cfg.targeted else None),
        "val_sparsity": float(cat["sparsity"][success].mean()) if success.any() else None,
        "val_sparsity_all": float(cat["sparsity"].mean()),
        "val_snr_db": snr.mean_db,
        "val_n": len(split),
        "val_successes": int(success.sum()),
    }


def _check(generator: Generator, threat_models: Sequence[SERModel], corpus: PreparedCorpus, cfg: STAATrainConfig) -> None:
    """Refuse inconsistent set-ups before any work: one line naming the problem."""
    if not threat_models:
        raise ConfigError("generator training needs at least one threat model")
    if (cfg.checkpointing or cfg.micro_batch) and generator.config.norm == "bn":
        raise ConfigError("checkpointing and micro_batch need a generator without batch norm (norm 'gn' or 'none')")
    if cfg.no_factorisation == generator.config.factorised:
        raise ConfigError(
            "no_factorisation needs a generator built with factorised=False, and only then "
            f"(generator factorised={generator.config.factorised}, no_factorisation={cfg.no_factorisation})"
        )
    classes = {m.num_classes for m in threat_models}
    if len(classes) != 1:
        raise ConfigError(f"threat models disagree on the number of classes: {sorted(classes)}")
    (n_classes,) = classes
    if n_classes != len(corpus.classes):
        raise DataError(f"corpus has {len(corpus.classes)} classes, the threat models {n_classes}", corpus.path)
    if cfg.targeted and not 0 <= int(cfg.target_class) < n_classes:  # type: ignore[arg-type]
        raise ConfigError(f"target class {cfg.target_class} outside the {n_classes} classes")


@contextlib.contextmanager
def _frozen_all(models: Sequence[SERModel]) -> Iterator[None]:
    """Every threat model in eval mode without parameter gradients (restored afterwards)."""
    with contextlib.ExitStack() as stack:
        for model in models:
            stack.enter_context(frozen(model))
        yield


def _broadcast_parameters(module: torch.nn.Module) -> None:
    """Start every rank from rank 0's weights, whatever each process initialised."""
    if ddp.is_distributed():
        for t in [*module.parameters(), *module.buffers()]:
            torch.distributed.broadcast(t.data, src=0)


def _restore(
    generator: Generator,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    cfg: STAATrainConfig,
    state: dict,
    path: Path,
) -> tuple[tuple[float, float], int]:
    """Load a resume state (weights, optimiser, scheduler, adapted λs); return (best score, next epoch)."""
    try:
        generator.load_state_dict(state["generator"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        lambdas = state["lambdas"].tolist()
        best, epoch = tuple(state["best"].tolist()) or None, int(state["epoch"])
        if best is not None and len(best) == 2:  # a state written before budgets took part in the choice
            best = (1.0, *best)
    except (KeyError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise CheckpointError(f"resume state does not match this generator or optimiser ({first})", path) from None
    for name, value in zip(LAMBDAS, lambdas):
        setattr(cfg, name, value)
    return best, epoch + 1  # type: ignore[return-value]
