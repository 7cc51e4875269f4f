"""Budgeted sparsity: adapt the loss weights during generator training until a requested budget is met.

The paper fixes λ_s and reports whatever sparsity results; a user usually wants the opposite — "at most
10 % of samples" or "at least 30 dB SNR". Treating the budget as a constraint of the training problem,
its Lagrange multiplier is exactly the loss weight, and dual ascent raises it while the constraint is
violated and lowers it while there is slack. (A top-k mask needs no controller for sparsity: it keeps
its budget by construction, :mod:`staa.attacks.staa.masks`. These controllers serve the paper's
threshold mask and the SNR floor.)

The controllers act after every validation (every ``eval_every`` steps of the trainer), on its binary-mask
measurement: whether that checkpoint met the budget (``budget_met``: within ``tolerance``, 10 % of the
target, on the wrong side at most) is recorded, then the weight is set in the config (the next steps
train with it; the value is checkpointed, so a resumed run continues the same schedule). Updating after
every optimisation step on the batch's own measurement was tried and oscillated: the mask answers a
change of λ_s a few steps later, and a batch is a noisy measurement (gains small enough not to
oscillate took hundreds of steps to move λ; a moving average's lag made the additive rule overshoot
to a full mask). A top-k mask has no such loop at all: its budget holds at every step. The trainer
keeps as ``best/`` the checkpoint with the highest ASR among those that met it, so a budgeted generator
is not replaced by a denser one that merely fooled more clips.

Two update rules, for the two readings of "budget":

* ``"multiplicative"`` (default): λ ← λ · (measured / target)^lr, dual ascent on log λ. It is scale
  free (λ_s spans decades between corpora and clip lengths) and λ stays positive. One update changes
  λ by at most ``max_factor`` (10×) either way: a mask that collapsed to 0 % (measured at the 0.01 %
  floor, a log-ratio of −6.9 at a 10 % budget) would otherwise cut λ a thousandfold at once, and the
  next mask swung to ~90 % (seen in the demo); capped, the controller walks back in steps.
* ``"additive"``, an *equality* (measured = target): the damped multiplier method of Platt & Barr
  (1988), μ ← μ + lr · e and λ = μ + damping · e with e = scale · (measured − target) / target and
  ``scale`` the weight's starting value. Plain dual ascent (damping 0) overshoots, because a
  generator's sparsity responds to λ_s with a lag and in jumps (its position scores are pushed to
  either side of γ); the proportional term damps that oscillation. The multiplier of an equality
  constraint has no sign restriction, so λ may turn negative — the term then *rewards* more samples
  (or amplitude) — and the budget is met from both sides.
"""

from __future__ import annotations

import math
from typing import Any

from staa.errors import ConfigError

UPDATES = ("multiplicative", "additive")


class DualController:
    """Shared dual-ascent step: subclasses name the weight, the measurement and the violation."""

    weight: str
    metric: str  # the validation measurement the weight follows

    def __init__(
        self,
        *,
        lr: float = 1.0,
        update: str = "multiplicative",
        damping: float = 2.0,
        floor: float = 1e-8,
        max_factor: float = 10.0,
        tolerance: float = 0.1,
    ) -> None:
        if update not in UPDATES:
            raise ConfigError(f"budget: update must be one of {', '.join(UPDATES)}, got '{update}'")
        if not lr > 0:
            raise ConfigError(f"budget: lr must be positive, got {lr}")
        if damping < 0:
            raise ConfigError(f"budget: damping must be >= 0, got {damping}")
        if not max_factor > 1:
            raise ConfigError(f"budget: max_factor must be > 1, got {max_factor}")
        self.lr, self.update, self.damping, self.floor = lr, update, damping, floor
        self.max_step = math.log(max_factor)
        self.tolerance = tolerance
        self.scale: float | None = None  # the weight's value at the first update (additive rule)
        self.multiplier: float | None = None  # μ, the integral part (additive rule)

    def violation(self, measured: float) -> tuple[float, float]:
        """(log-ratio, relative difference) of measured vs target: positive when the budget is exceeded."""
        raise NotImplementedError

    def __call__(self, step: int, record: dict[str, Any], config: Any) -> None:
        """Update the weight in ``config`` from a validation record (nothing to learn without a measurement)."""
        value = record.get(self.metric)
        if value is None:  # e.g. no successful clip, so no SNR
            return
        log_ratio, relative = self.violation(float(value))
        current = getattr(config, self.weight)
        if self.update == "multiplicative":
            step_size = min(self.max_step, max(-self.max_step, self.lr * log_ratio))
            new = max(self.floor, current) * math.exp(step_size)
        else:
            if self.scale is None:
                self.scale, self.multiplier = max(self.floor, abs(current)), current
            error = self.scale * relative
            self.multiplier += self.lr * error
            new = self.multiplier + self.damping * error
        setattr(config, self.weight, new)

    def met(self, record: dict[str, Any]) -> bool:
        """Whether a validation record is within ``tolerance`` of the target (False without a measurement)."""
        value = record.get(self.metric)
        return value is not None and self.violation(float(value))[1] <= self.tolerance

    def state(self) -> list[float]:
        """What the additive rule carries between steps (for resuming); empty before its first step."""
        return [] if self.scale is None else [self.scale, float(self.multiplier)]

    def load_state(self, values: list[float]) -> None:
        if values:
            self.scale, self.multiplier = values


class SparsityBudget(DualController):
    """Drive λ_s so that the validation sparsity (% of perturbed samples over all clips) reaches ``target_pct``."""

    weight = "lambda_s"
    metric = "val_sparsity_all"
    min_pct = 0.01  # a measured 0 % would make the log-ratio infinite

    def __init__(self, target_pct: float, **kwargs: Any) -> None:
        if not 0 < target_pct < 100:
            raise ConfigError(f"budget: target sparsity must be in (0, 100) %, got {target_pct}")
        super().__init__(**kwargs)
        self.target_pct = target_pct

    def violation(self, measured: float) -> tuple[float, float]:
        return math.log(max(measured, self.min_pct) / self.target_pct), (measured - self.target_pct) / self.target_pct


class SNRBudget(DualController):
    """Drive λ_m so that the validation SNR (dB, over successful clips) reaches at least ``target_db``.

    SNR is logarithmic already, so the multiplicative rule uses the dB shortfall as the log-ratio of
    amplitudes: λ_m ← λ_m · 10^(lr · (target − SNR) / 20). A λ_m of 0 starts from ``floor``.
    """

    weight = "lambda_m"
    metric = "val_snr_db"

    def __init__(self, target_db: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_db = target_db

    def violation(self, measured: float) -> tuple[float, float]:
        shortfall = self.target_db - measured
        return shortfall / 20 * math.log(10), shortfall / abs(self.target_db)
