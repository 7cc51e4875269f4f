"""Sparse PGD: L∞-bounded sign-gradient steps on at most k samples per clip (dense PGD when k = N).

The authors ran a private ``torchattacks`` fork whose position rule is unpublished (their reported
sparsities exceed their own k, so positions were probably re-drawn every step and their union grew).
Our rule keeps the budget exact and is cheap:

1. **Support.** One gradient of the loss at the clean clip; the k samples with the largest
   |∂L/∂x| form the support S (a saliency mask, like ART's ``mask=`` but chosen per clip).
2. **Random start** uniform in [−ε, ε] on S only.
3. **Steps.** ``x ← clip(x − α·sign(∇L) ⊙ 1_S)`` to the ε-box and the amplitude range, ``steps`` times.

Samples outside S are never written, so ‖δ‖₀ ≤ k for every clip by construction. The support costs
one extra gradient evaluation (steps + 1 in all); the dense attack (k = N) skips it.

Loss. ``"margin"`` (default) is the C&W margin STAA-Net is trained with, so sparse PGD and STAA-Net
optimise the same objective; it is flat once a clip is fooled. ``"ce"`` is the cross-entropy of
``torchattacks``/ART PGD, kept for comparisons with those tools. With ``early_stop`` a clip stops
moving at the first step where it is fooled, which keeps its perturbation small and saves compute.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from staa.attacks.base import LOSSES, BudgetedAttack, SampleBudget, loss_gradient
from staa.errors import ConfigError


class SparsePGD(BudgetedAttack):
    """PGD under an L∞ budget ``eps`` and an L0 budget of ``k`` samples (or ``k_percent`` % of N).

    ``alpha`` defaults to each clip's ε/4 and ``steps`` to 20 (the authors' settings); ``k = k_percent = None``
    is dense PGD. ``seed`` gives the random start its own generator; without it the start is drawn
    from torch's global generator (seeded per chunk by :func:`staa.evaluation.adversarial_set.craft_adversarial_set`).
    """

    name = "pgd"

    def __init__(
        self,
        model: nn.Module,
        eps: float | None = None,
        *,
        eps_db: float | None = None,
        k: int | None = None,
        k_percent: float | None = None,
        alpha: float | None = None,
        steps: int = 20,
        random_start: bool = True,
        loss: str = "margin",
        early_stop: bool = True,
        seed: int | None = None,
        targeted: bool = False,
        bounds: tuple[float, float] = (-1.0, 1.0),
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, eps, eps_db=eps_db, targeted=targeted, bounds=bounds, batch_size=batch_size)
        self.sample_budget = SampleBudget(k, k_percent, self.name)
        if steps < 1:
            raise ConfigError(f"pgd: steps must be at least 1, got {steps}")
        if loss not in LOSSES:
            raise ConfigError(f"pgd: unknown loss '{loss}' (expected one of {', '.join(LOSSES)})")
        self.k = k
        self.k_percent = k_percent
        if alpha is not None and alpha <= 0:
            raise ConfigError(f"pgd: alpha must be positive, got {alpha}")
        self.alpha = None if alpha is None else float(alpha)  # None: each clip's ε / 4
        self.steps = steps
        self.random_start = random_start
        self.loss = loss
        self.early_stop = early_stop
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def budget(self, n: int) -> int:
        """Samples that may change in a clip of ``n`` samples (rounded down, at least one; dense: n)."""
        allowed = self.sample_budget.of(n)
        return n if allowed is None else allowed

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        eps = self.clip_eps(x)
        lo, hi = self._project(x, x - eps), self._project(x, x + eps)
        alpha = eps / 4 if self.alpha is None else torch.full_like(eps, self.alpha)
        k = self.budget(x.shape[1])
        support = None
        if k < x.shape[1]:
            _, grad = self._loss_and_grad(x, labels)
            support = torch.zeros_like(x).scatter_(1, grad.abs().topk(k, dim=1).indices, 1.0)
        x_adv = x.clone()
        if self.random_start:
            noise = (torch.rand(x.shape, generator=self.generator) * 2 - 1).to(x.device) * eps
            x_adv = torch.clamp(x + (noise if support is None else noise * support), lo, hi)
        active = torch.arange(len(x), device=x.device)
        for _ in range(self.steps):
            logits, grad = self._loss_and_grad(x_adv[active], labels[active])
            if self.early_stop:
                keep = ~self.is_success(logits.argmax(-1), labels[active])
                active, grad = active[keep], grad[keep]
                if not len(active):
                    break
            step = alpha[active] * grad.sign()
            if support is not None:
                step = step * support[active]
            x_adv[active] = torch.clamp(x_adv[active] - step, lo[active], hi[active])
        return x_adv

    def _loss_and_grad(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Logits at ``x`` and the gradient of the loss the attacker *minimises*."""
        logits, _, grad = loss_gradient(self.model, x, labels, targeted=self.targeted, loss=self.loss)
        return logits, grad
