"""One small attack contract shared by STAA-Net and every baseline (torchattacks-style).

An :class:`Attack` wraps a frozen SER model. Calling it on a waveform batch ``x`` (B, N) in the valid
amplitude range returns an :class:`AttackResult`: the adversarial audio, the perturbation actually
applied (``x_adv − x``, so every attack is measured the same way), per-example success on the attacked
model and the crafting wall time. Subclasses implement only :meth:`Attack.perturb`.

Labels: untargeted attacks push away from ``y`` (default: the model's clean prediction, the paper's
protocol); targeted attacks push towards ``target``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from staa.attacks.budget import AmplitudeBudget
from staa.errors import ConfigError
from staa.metrics import snr_db, sparsity, succeeded


@dataclass
class AttackResult:
    """What an attack returns for one batch; tensors are on the CPU, shape (B, N) or (B,)."""

    x_adv: Tensor
    delta: Tensor
    clean_pred: Tensor
    adv_pred: Tensor
    labels: Tensor
    success: Tensor
    seconds: float
    target: Tensor | None = None
    eps: Tensor | None = None  # (B,) the L∞ bound each clip was attacked under (absolute units)

    @property
    def seconds_per_example(self) -> float:
        return self.seconds / max(1, len(self.x_adv))

    @property
    def snr_db(self) -> Tensor:
        return snr_db(self.x_adv - self.delta, self.delta)

    @property
    def sparsity(self) -> Tensor:
        return sparsity(self.delta)

    @property
    def l0(self) -> Tensor:
        """Changed samples per clip, (B,): the count behind :attr:`sparsity` (a minimum-norm attack's answer)."""
        return (self.delta != 0).sum(dim=-1)


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no parameter gradients for the duration of an attack, restored afterwards."""
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    model.requires_grad_(False)
    try:
        yield model
    finally:
        for p, f in zip(model.parameters(), flags):
            p.requires_grad_(f)
        model.train(was_training)


def margin_loss(logits: Tensor, labels: Tensor, targeted: bool = False, kappa: float = 0.0) -> Tensor:
    """Per-example C&W margin loss (Carlini & Wagner f6), minimised by the attacker.

    Untargeted: max(z_y − max_{j≠y} z_j, −κ) — pushes the label's logit below the best other class.
    Targeted: max(max_{j≠t} z_j − z_t, −κ) — pushes the target's logit above every other class.
    """
    true = logits.gather(1, labels[:, None]).squeeze(1)
    other = logits.masked_fill(nn.functional.one_hot(labels, logits.shape[1]).bool(), float("-inf")).amax(1)
    margin = other - true if targeted else true - other
    return torch.clamp(margin, min=-kappa)


LOSSES = ("margin", "ce")


def loss_gradient(
    model: nn.Module, x: Tensor, labels: Tensor, *, targeted: bool, loss: str = "margin", kappa: float = 0.0
) -> tuple[Tensor, Tensor, Tensor]:
    """Logits at ``x``, the per-example loss the attacker *minimises* and its gradient w.r.t. ``x``.

    ``"margin"`` is the C&W margin (:func:`margin_loss`, clamped at −κ; κ = inf leaves it unclamped, as
    the minimum-norm attacks need); ``"ce"`` is the cross-entropy of torchattacks/ART, negated for
    untargeted attacks. Rows are independent, so the gradient of the summed loss is each row's own.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        if loss == "margin":
            values = margin_loss(logits, labels, targeted, kappa)
        else:
            ce = nn.functional.cross_entropy(logits, labels, reduction="none")
            values = ce if targeted else -ce
        (grad,) = torch.autograd.grad(values.sum(), x)
    return logits.detach(), values.detach(), grad


@dataclass(frozen=True)
class SampleBudget:
    """How many samples a sparse attack may change: ``k`` directly or ``k_percent`` of the clip.

    Shared by every budgeted sparse attack so that all validate and round the same way.
    """

    k: int | None = None
    k_percent: float | None = None
    owner: str = "attack"
    required: bool = False  # an attack that is only defined with a budget (PGD₀, Sparse-RS)

    def __post_init__(self) -> None:
        if self.required and self.k is None and self.k_percent is None:
            raise ConfigError(f"{self.owner}: give a sample budget, k or k_percent")
        if self.k is not None and self.k_percent is not None:
            raise ConfigError(f"{self.owner}: give either k or k_percent, not both")
        if self.k is not None and self.k < 1:
            raise ConfigError(f"{self.owner}: k must be at least 1, got {self.k}")
        if self.k_percent is not None and not 0 < self.k_percent <= 100:
            raise ConfigError(f"{self.owner}: k_percent must be in (0, 100], got {self.k_percent}")

    def of(self, n: int) -> int | None:
        """Samples allowed in a clip of ``n`` (percentages round down, at least one); None = no budget."""
        if self.k is not None:
            return min(self.k, n)
        if self.k_percent is not None:
            return max(1, min(n, math.floor(self.k_percent * n / 100)))
        return None


class Attack:
    """Base class. The L∞ budget is ``eps`` (raw waveform units) or ``eps_db`` (dB under each clip's peak,
    :mod:`staa.attacks.budget`); either way every clip gets its own ε, :meth:`clip_eps`, shape (B, 1).
    ``bounds`` is the valid amplitude range.

    ``control`` marks a control row rather than an attacker (δ = 0; another attacker's generator on other
    positions): it is reported beside the attacks but is no point of their curves.
    """

    name = "attack"
    control = False

    def __init__(
        self,
        model: nn.Module,
        eps: float | None = None,
        *,
        eps_db: float | None = None,
        targeted: bool = False,
        bounds: tuple[float, float] = (-1.0, 1.0),
        batch_size: int | None = None,
    ) -> None:
        self.amplitude = AmplitudeBudget(eps, eps_db, self.name)
        self.model = model
        self.eps = None if eps is None else float(eps)
        self.eps_db = None if eps_db is None else float(eps_db)
        self.targeted = targeted
        self.bounds = bounds
        self.batch_size = batch_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        """Return x_adv for a batch on the model's device; implemented by each attack."""
        raise NotImplementedError

    def predict(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.model(x).argmax(-1)

    def is_success(self, pred: Tensor, labels: Tensor) -> Tensor:
        """Per-example success of predictions ``pred``: the target reached, or the label left."""
        return pred == labels if self.targeted else pred != labels

    def __call__(self, x: Tensor, y: Tensor | None = None, *, target: Tensor | int | None = None) -> AttackResult:
        x = self._check_input(x)
        with frozen(self.model):
            x = x.to(self.device)
            clean_pred = self.predict(x)
            if self.targeted:
                if target is None:
                    raise ConfigError(f"{self.name}: a targeted attack needs target classes")
                labels = torch.as_tensor(target, device=self.device).expand(len(x)).long()
            else:
                labels = clean_pred if y is None else torch.as_tensor(y, device=self.device).long()
            if labels.numel() and (labels.min() < 0 or labels.max() >= self.model(x[:1]).shape[1]):
                raise ConfigError(f"{self.name}: label or target outside the model's classes")
            start = time.perf_counter()
            x_adv = self._perturb_batched(x, labels)
            if x_adv.is_cuda:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            x_adv = self._project(x, x_adv.detach())
            adv_pred = self.predict(x_adv)
        success = succeeded(clean_pred, adv_pred, labels) if self.targeted else adv_pred != labels
        return AttackResult(
            x_adv=x_adv.cpu(),
            delta=(x_adv - x).cpu(),
            clean_pred=clean_pred.cpu(),
            adv_pred=adv_pred.cpu(),
            labels=labels.cpu(),
            success=success.cpu(),
            seconds=seconds,
            target=labels.cpu() if self.targeted else None,
            eps=self.clip_eps(x).squeeze(1).cpu(),
        )

    # ---- helpers shared by subclasses --------------------------------------------------------------
    def _perturb_batched(self, x: Tensor, labels: Tensor) -> Tensor:
        if not self.batch_size or len(x) <= self.batch_size:
            return self.perturb(x, labels)
        parts = [
            self.perturb(x[i : i + self.batch_size], labels[i : i + self.batch_size])
            for i in range(0, len(x), self.batch_size)
        ]
        return torch.cat(parts)

    def clip_eps(self, x: Tensor) -> Tensor:
        """The L∞ bound of each clean clip of ``x`` (B, N), shape (B, 1): what every projection uses."""
        return self.amplitude.of(x)

    def _project(self, x: Tensor, x_adv: Tensor) -> Tensor:
        """Clip to each clip's ε-ball around the clean ``x`` and to the valid amplitude range (the invariant of every attack)."""
        eps = self.clip_eps(x)
        x_adv = torch.max(torch.min(x_adv, x + eps), x - eps)
        return x_adv.clamp(*self.bounds)

    def _delta_bounds(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Per sample, the lowest and highest δ allowed: the ε-ball intersected with the amplitude range."""
        eps = self.clip_eps(x)
        return self._project(x, x - eps) - x, self._project(x, x + eps) - x

    def _check_input(self, x: Tensor) -> Tensor:
        x = torch.as_tensor(x, dtype=torch.float32)
        if x.dim() == 1:
            x = x[None]
        if x.dim() != 2:
            raise ConfigError(f"{self.name}: expected a (batch, samples) waveform, got shape {tuple(x.shape)}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ConfigError(f"{self.name}: empty batch of shape {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ConfigError(f"{self.name}: input contains NaN or infinite samples")
        lo, hi = self.bounds
        if x.min() < lo or x.max() > hi:
            raise ConfigError(f"{self.name}: input outside the valid amplitude range [{lo}, {hi}]")
        return x


# ---- kinds of attack: what sweeps, curves, seeds and experiments dispatch on -----------------------------
class BudgetedAttack(Attack):
    """An attack at a fixed ε and sample budget (``k`` samples or ``k_percent`` % of the clip): one run per budget."""


class MinimizationAttack(Attack):
    """An attack that seeks the fewest changed samples within ε: one run, read at every budget (its L0 per clip)."""


class FittedAttack(Attack):
    """An attack with a learned state (a generator, a universal δ), fitted once then applied to any clip.

    ``fitted_state`` says what the state is (``generator``: trained by ``staa generator train``;
    ``perturbation``: fitted by the attack itself); :meth:`from_pretrained` loads a saved one.
    """

    fitted_state = "perturbation"

    @classmethod
    def from_pretrained(cls, model: nn.Module, path: str | Path, **kwargs: object) -> FittedAttack:
        """The attack of ``model`` with the state saved at ``path``; implemented by each fitted attack."""
        raise NotImplementedError
