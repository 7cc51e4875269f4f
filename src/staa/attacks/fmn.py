"""FMN-L0, the fast minimum-norm attack (Pintor, Roli, Brendel & Biggio, NeurIPS 2021), within an ε-box.

A minimum-norm attack answers "how few samples must change?" per clip instead of "does a budget of k
suffice?". FMN keeps an L0 radius r per clip and alternates, for ``steps`` steps:

1. **Radius.** If the current iterate fools the model, r shrinks to min(r − 1, ⌊r(1 − γ)⌋, best L0
   found); otherwise it grows to max(r + 1, ⌊r(1 + γ)⌋). r starts at 1.
2. **Step.** δ ← δ − α·∇L/‖∇L‖₂ on the unclamped margin L (so the step still points at the boundary
   once it is crossed), then the exact projection onto {‖δ‖₀ ≤ r, lo ≤ δ ≤ hi}
   (:func:`~staa.attacks.l0.project_sparse_box`), where the box is the ε-ball intersected with the
   amplitude range: the L∞ bound that makes this the L0 + L∞ threat model of the other attacks here.

α and γ decay from their initial to their final values by cosine annealing (the paper: γ 0.05 → 0.001,
α_final = α_init/100). α is the L2 length of a step in units of ε: α = 1 moves one sample by ε, the
paper's α = 1 on images in [0, 1] carried over to the ε-box. The answer is the fooling iterate with
the fewest changed samples (:class:`~staa.attacks.l0.SparsestFooling`); a clip never fooled is returned
unchanged, so ``AttackResult.l0`` is its minimum L0 where ``success`` holds.

Because r grows by at most 5 % per step, reaching the thousands of samples a speech clip may need takes
more than a hundred steps; :class:`~staa.attacks.sigma_zero.SigmaZero`, which starts dense and prunes,
does not have that ramp (docs/results/baselines.md#minimum-norm-attacks). FMN's results agree with
foolbox's and secml-torch's FMN-L0 (tests/attacks/test_peers.py).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from staa.attacks.base import MinimizationAttack, loss_gradient
from staa.attacks.l0 import SparsestFooling, project_sparse_box
from staa.errors import ConfigError


def cosine(start: float, end: float, step: int, steps: int) -> float:
    """Cosine annealing from ``start`` (step 0) towards ``end`` (step ``steps``)."""
    return end + (start - end) * (1 + math.cos(math.pi * step / steps)) / 2


class FMNL0(MinimizationAttack):
    """Minimum-L0 perturbation within ε per clip, by FMN's adaptive radius; ``steps`` gradient steps."""

    name = "fmn"

    def __init__(
        self,
        model: nn.Module,
        eps: float | None = None,
        *,
        eps_db: float | None = None,
        steps: int = 100,
        alpha_init: float = 1.0,
        alpha_final: float | None = None,
        gamma_init: float = 0.05,
        gamma_final: float = 0.001,
        targeted: bool = False,
        bounds: tuple[float, float] = (-1.0, 1.0),
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, eps, eps_db=eps_db, targeted=targeted, bounds=bounds, batch_size=batch_size)
        if steps < 1:
            raise ConfigError(f"fmn: steps must be at least 1, got {steps}")
        alpha_final = alpha_init / 100 if alpha_final is None else alpha_final
        if not 0 < alpha_final <= alpha_init or not 0 <= gamma_final <= gamma_init < 1:
            raise ConfigError("fmn: need 0 < alpha_final <= alpha_init and 0 <= gamma_final <= gamma_init < 1")
        self.steps = steps
        self.alpha = (float(alpha_init), float(alpha_final))
        self.gamma = (float(gamma_init), float(gamma_final))

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        lo, hi = self._delta_bounds(x)
        eps, n = self.clip_eps(x), x.shape[1]
        delta = torch.zeros_like(x)
        radius = torch.ones(len(x), device=x.device)
        best = SparsestFooling(x)
        for i in range(self.steps):
            alpha, gamma = cosine(*self.alpha, i, self.steps), cosine(*self.gamma, i, self.steps)
            logits, _, grad = loss_gradient(self.model, x + delta, labels, targeted=self.targeted, kappa=float("inf"))
            fooled = self.is_success(logits.argmax(-1), labels)
            best.update(delta, fooled)
            shrink = torch.minimum(torch.minimum(radius - 1, (radius * (1 - gamma)).floor()), best.l0)
            grow = torch.maximum(radius + 1, (radius * (1 + gamma)).floor())
            radius = torch.where(fooled, shrink, grow).clamp(0, n)
            step = alpha * eps * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-30)
            delta = project_sparse_box(delta - step, lo, hi, radius.long())
        best.update(delta, self.is_success(self.predict(x + delta), labels))
        return x + best.delta
