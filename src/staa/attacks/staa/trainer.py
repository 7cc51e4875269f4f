"""Training the STAA-Net generator against frozen threat SER models (paper §3.2.4, §4.4).

Each step: the threat model labels the clean batch (untargeted: its own prediction, the paper's
protocol; with an ensemble, the *first* model's prediction, so that every member is pushed away from
one common label), the generator in train mode perturbs it, every threat model classifies x_adv, and
Adam minimises Eq. 7 with the C&W term averaged over the ensemble.

Training is counted in optimisation *steps* (``steps``, or ``epochs`` passes over the training split):
a small corpus still gets the thousands of steps a generator needs (the paper's 20 epochs of DEMoS
were ≈ 17 000 steps; 20 epochs of the 81-clip EmoDB subset would be 220). Batches are drawn from a
seeded permutation per pass, and each clip can be augmented (:mod:`staa.data.augment`: speed, random
crop and shift, gain, low-level noise), so that few clips do not mean few distinct inputs. The mask
tightens on the :class:`~staa.attacks.staa.schedule.DensitySchedule` (a dense start, then geometric
annealing to the budget). Every ``eval_every`` steps the generator (eval mode, binary mask) attacks
the validation split: white-box ASR on the first threat model, sparsity and SNR of x_adv − x
(:mod:`staa.metrics`). ``best/`` is the checkpoint with the highest validation ASR among those within
the budget — the annealing finished, every controller's budget met — (least sparse first on ties);
``last/`` and ``state.pt`` are rewritten at every validation, so a killed run resumes from there.

Budget controllers (:mod:`staa.attacks.staa.budget`) run after every validation and change a loss
weight in the config for the next steps; the weights are recorded in the history and restored on
resume.

Under torchrun each global batch of ``batch_size`` clips is split across ranks, gradients are
averaged with weights proportional to each rank's share (so N ranks take the step one process takes),
batch norm (``norm="bn"``) uses the global batch, and validation shards are gathered so that every
rank computes the same metrics. Only rank 0 writes and shows progress.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from staa.attacks.base import frozen
from staa.attacks.staa.budget import DualController
from staa.attacks.staa.generator import Generator, GeneratorOutput
from staa.attacks.staa.losses import saliency_loss, staa_loss
from staa.attacks.staa.schedule import DensitySchedule
from staa.attacks.staa.train_config import LAMBDAS, STAATrainConfig, check_setup
from staa.attacks.staa.validation import clean_labels, validate
from staa.audio import SAMPLE_RATE
from staa.data import augment
from staa.data.cache import PreparedCorpus, Split
from staa.errors import CheckpointError
from staa.io.checkpoint import load_state, save_state
from staa.io.outputs import write_json
from staa.models.base import SERModel
from staa.runtime import distributed as ddp
from staa.runtime.progress import progress
from staa.runtime.reproducibility import provenance, seed_everything


@dataclass
class _Run:
    """What the loop carries between validations (and a resume restores)."""

    steps: int
    per_pass: int
    eval_every: int
    schedule: DensitySchedule
    history: list[dict] = field(default_factory=list)
    best: tuple[float, float, float] | None = None  # (within budget, ASR, −sparsity), compared in order
    start: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    seen: int = 0
    clock: float = field(default_factory=time.perf_counter)  # when this stretch of training steps began


def train_generator(
    generator: Generator,
    threat_models: Sequence[SERModel],
    corpus: PreparedCorpus,
    out_dir: str | Path,
    config: STAATrainConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    show_progress: bool = True,
    callbacks: Sequence[DualController] = (),
) -> dict[str, Any]:
    """Train ``generator`` to fool ``threat_models`` on ``corpus``; write best/, last/, train.json in ``out_dir``."""
    cfg = config or STAATrainConfig.paper()
    check_setup(generator, threat_models, corpus, cfg, callbacks)
    requested = asdict(cfg)  # before budgets adapt its weights: what train.json reports as the settings
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
    train, val = corpus.split("train"), corpus.split("val").drawn(cfg.val_examples, cfg.seed)
    run = _plan(generator, cfg, len(train))
    optimizer = torch.optim.Adam(generator.parameters(), lr=cfg.lr)
    scheduler = _lr_scheduler(optimizer, cfg, run)
    state = load_state(out / "state.pt", {"generator": dict, "optimizer": dict, "scheduler": dict, "history": list})
    if state is not None:
        _restore(generator, optimizer, scheduler, cfg, callbacks, run, state, out / "state.pt")
    show = show_progress and ddp.is_main()
    with _frozen_all(threat_models):
        for step in progress(range(run.start, run.steps), "training steps", show):
            _train_step(generator, threat_models, train, optimizer, cfg, run, step, device)
            scheduler.step()
            if (step + 1) % run.eval_every == 0 or step + 1 == run.steps:
                _checkpoint(generator, threat_models, val, optimizer, scheduler, cfg, callbacks, run, step, out, device)
    result = _result(generator, threat_models, corpus, requested, run)
    if ddp.is_main():
        write_json(out / "train.json", result)
    ddp.barrier()
    return result


def _plan(generator: Generator, cfg: STAATrainConfig, n_train: int) -> _Run:
    per_pass = max(1, math.ceil(n_train / cfg.batch_size))
    steps = cfg.steps or cfg.epochs * per_pass
    g = generator.config
    target = g.k_percent if g.factorised and g.mask == "topk" else 100.0
    return _Run(
        steps,
        per_pass,
        cfg.eval_every or per_pass,
        DensitySchedule(target, cfg.dense_steps, cfg.anneal_steps).fitted(steps),
    )


def _lr_scheduler(
    optimizer: torch.optim.Optimizer, cfg: STAATrainConfig, run: _Run
) -> torch.optim.lr_scheduler.LRScheduler:
    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=run.steps)
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size * run.per_pass, gamma=cfg.gamma_lr)


def _train_step(
    generator: Generator,
    threat_models: Sequence[SERModel],
    train: Split,
    optimizer: torch.optim.Optimizer,
    cfg: STAATrainConfig,
    run: _Run,
    step: int,
    device: torch.device,
) -> None:
    """One optimisation step on this step's batch (this rank's rows)."""
    generator.train()
    batch = _batch_rows(cfg, len(train), run.per_pass, step)
    rows = batch[ddp.rank() :: ddp.world_size()]
    for p in generator.parameters():  # every rank all-reduces the same gradient list, even with no rows
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    optimizer.zero_grad(set_to_none=False)
    if rows:
        x = _augmented(train, batch, rows, cfg, step).to(device)
        step_cfg = _annealed(cfg, generator, run.schedule, step)
        # weight by this rank's share so that averaging over ranks gives the global-batch mean
        means = backward_step(generator, threat_models, x, step_cfg, len(rows) * ddp.world_size() / len(batch),
                              k_percent=run.schedule.pct(step))  # fmt: skip
        for k, v in means.items():
            run.sums[k] = run.sums.get(k, 0.0) + v * len(rows)
        run.seen += len(rows)
    ddp.all_reduce_mean_([p.grad for p in generator.parameters()])
    optimizer.step()


def _batch_rows(cfg: STAATrainConfig, n: int, per_pass: int, step: int) -> list[int]:
    """The rows of step ``step``: pass ``step // per_pass`` of a seeded permutation per pass."""
    epoch, position = divmod(step, per_pass)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)).tolist()
    return sorted(order[position * cfg.batch_size : (position + 1) * cfg.batch_size])


def _augmented(train: Split, batch: list[int], rows: list[int], cfg: STAATrainConfig, step: int) -> Tensor:
    """This rank's clips of the batch, augmented with the draw of the whole global batch (seeded by step)."""
    x = torch.from_numpy(np.asarray(train.waves[rows], dtype=np.float32))
    aug = cfg.augmentation()
    if aug is None:
        return x
    rng = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    labels = np.asarray(train.labels)[batch]
    crop = augment.crop_length(aug, x.shape[-1], SAMPLE_RATE)
    d = augment.draw(aug, labels, labels, crop, rng).rows([batch.index(r) for r in rows])
    return augment.apply(x, d)


def _annealed(cfg: STAATrainConfig, generator: Generator, schedule: DensitySchedule, step: int) -> STAATrainConfig:
    """The config of one step: a top-k mask has no sparsity or quantisation terms (its budget is the k);
    a threshold mask's λ_s and λ_q ramp up with the schedule."""
    if _is_topk(generator):
        return replace(cfg, lambda_s=0.0, lambda_q=0.0)
    t = schedule.progress(step)
    return cfg if t == 1.0 else replace(cfg, lambda_s=cfg.lambda_s * t, lambda_q=cfg.lambda_q * t)


def backward_step(
    generator: Generator,
    threat_models: Sequence[SERModel],
    x: Tensor,
    cfg: STAATrainConfig,
    weight: float = 1.0,
    *,
    k_percent: float | None = None,
) -> dict[str, float]:
    """Accumulate the gradient of ``weight`` × Eq. 7 on ``x`` into the generator; return each term's mean.

    In parts of ``cfg.micro_batch`` clips (all at once if None), each weighted by its share of ``x``,
    so that the accumulated gradient is the whole batch's while only one part's graph is alive. With a
    saliency weight (``lambda_p``, top-k masks) the gradient of Eq. 7 reaching x_adv is kept from that
    backward pass and the saliency term's gradient is added by a second one through the scores alone.
    """
    step = cfg.micro_batch or len(x)
    sums: dict[str, float] = {}
    for start in range(0, len(x), step):
        part = x[start : start + step]
        terms, out = _step_loss(generator, threat_models, part, cfg, k_percent)
        share = weight * (len(part) / len(x))
        saliency = cfg.lambda_p > 0 and _is_topk(generator)
        if saliency:
            out.x_adv.retain_grad()
        (terms["total"] * share).backward(retain_graph=saliency)
        if saliency:
            terms["saliency"] = saliency_loss(out.scores, out.x_adv.grad.detach())
            terms["weighted_saliency"] = cfg.lambda_p * terms["saliency"]
            (terms["weighted_saliency"] * share).backward()
            terms["total"] = terms["total"] + terms["weighted_saliency"].detach()
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(part)
    return {k: v / len(x) for k, v in sums.items()}


def _is_topk(generator: Generator) -> bool:
    return generator.config.factorised and generator.config.mask == "topk"


def _step_loss(
    generator: Generator, threat_models: Sequence[SERModel], x: Tensor, cfg: STAATrainConfig, k_percent: float | None
) -> tuple[dict[str, Tensor], GeneratorOutput]:
    """Eq. 7 on one part of a batch (a top-k mask at ``k_percent``: no sparsity or quantisation term)."""
    labels = clean_labels(threat_models[0], x, cfg)
    out = generator(x, k_percent=k_percent)
    logits = [model(out.x_adv) for model in threat_models]
    g = generator.config
    topk = _is_topk(generator)
    return staa_loss(
        logits,
        labels,
        out.magnitudes,
        out.mask,
        None if topk else out.scores,
        cfg.weights(generator.clip_eps(x)),  # the "mean" reduction measures v in units of each clip's ε
        gamma=g.gamma,
        targeted=cfg.targeted,
        kappa=cfg.kappa,
        focus=cfg.focus,
    ), out


def _checkpoint(
    generator: Generator,
    threat_models: Sequence[SERModel],
    val: Split,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    cfg: STAATrainConfig,
    callbacks: Sequence[DualController],
    run: _Run,
    step: int,
    out: Path,
    device: torch.device,
) -> None:
    """Validate, record, keep ``best/`` if this checkpoint is the best within the budget, save the state."""
    t0 = time.perf_counter()
    names = sorted(run.sums)
    totals = ddp.all_reduce_sum(
        torch.tensor([run.sums[k] for k in names] + [run.seen], dtype=torch.float64, device=device)
    )
    seen = max(1.0, float(totals[-1]))
    record = {
        "step": step + 1,
        "epoch": (step + 1) / run.per_pass,
        "sparsity_budget_pct": run.schedule.pct(step),
        **{f"loss_{k}": float(v) / seen for k, v in zip(names, totals.tolist())},
        "lr": optimizer.param_groups[0]["lr"],
        **{k: getattr(_annealed(cfg, generator, run.schedule, step), k) for k in LAMBDAS},  # the weights in effect
        "seconds": t0 - run.clock,  # training since the last validation, validation left out
        "clips_per_second": float(totals[-1]) / max(t0 - run.clock, 1e-9),
        **validate(generator, threat_models, val, cfg, device),
    }
    settled = step + 1 >= run.schedule.settled and step + 1 > run.schedule.dense_steps  # trained under the budget
    record["budget_met"] = settled and all(c.met(record) for c in callbacks)
    record["validation_seconds"] = time.perf_counter() - t0
    for controller in callbacks if step + 1 > run.schedule.dense_steps else ():  # not in the dense start
        controller(step, record, cfg)
    run.history.append(record)
    run.sums, run.seen, run.clock = {}, 0, time.perf_counter()
    score = (float(record["budget_met"]), record["val_asr"], -record["val_sparsity_all"])
    improved = run.best is None or score > run.best
    run.best = score if improved else run.best
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
            controllers=[torch.tensor(c.state(), dtype=torch.float64) for c in callbacks],
            history=run.history,
            best=torch.tensor(run.best, dtype=torch.float64),
            step=step,
        )
    ddp.barrier()


def _result(
    generator: Generator, threat_models: Sequence[SERModel], corpus: PreparedCorpus, cfg: dict[str, Any], run: _Run
) -> dict[str, Any]:
    """``train.json``: the best checkpoint's validation, the history, the settings as requested, provenance."""
    best = run.best
    return {
        "best": {"val_asr": best[1], "val_sparsity_all": -best[2], "budget_met": bool(best[0])} if best else None,
        "steps": run.steps,
        "clips_per_second": sum(h["clips_per_second"] for h in run.history) / max(1, len(run.history)),
        "history": run.history,
        "train_config": cfg,
        "world_size": ddp.world_size(),
        "provenance": provenance(
            {
                "corpus": str(corpus.path),
                "generator": generator.config.to_dict(),
                "threat_models": [m.config.to_dict() for m in threat_models],
                "train": cfg,
            },
            cfg["seed"],
        ),
    }


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
    callbacks: Sequence[DualController],
    run: _Run,
    state: dict,
    path: Path,
) -> None:
    """Load a resume state (weights, optimiser, scheduler, adapted λs, controllers) into ``run``."""
    try:
        generator.load_state_dict(state["generator"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        lambdas = state["lambdas"].tolist()
        controllers = [t.tolist() for t in state["controllers"]]
        best, step = tuple(state["best"].tolist()), int(state["step"])
    except (KeyError, RuntimeError, ValueError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise CheckpointError(f"resume state does not match this generator or optimiser ({first})", path) from None
    if len(controllers) != len(callbacks):
        raise CheckpointError("resume state was written with other budgets", path)
    for name, value in zip(LAMBDAS, lambdas):
        setattr(cfg, name, value)
    for controller, values in zip(callbacks, controllers):
        controller.load_state(values)
    run.best, run.start, run.history = best, step + 1, state["history"]  # type: ignore[assignment]
