"""PGD₀ (Croce & Hein, "Sparse and Imperceivable Adversarial Attacks", ICCV 2019), the L0 + L∞ variant.

Where :class:`~staa.attacks.pgd.SparsePGD` fixes its k samples once at the clean clip, PGD₀ chooses
them again after every step, so a sample whose gradient grows during the attack can enter the support
and one that stopped helping can leave it. Per restart and clip:

1. **Random start** uniform in the box lo ≤ δ ≤ hi (the ε-ball intersected with the amplitude range),
   projected onto the sparse box (:func:`~staa.attacks.l0.project_sparse_box`), which keeps the k
   samples of largest gain.
2. **Steps.** δ ← Π(δ − η·∇L/‖∇L‖₁), ``steps`` times: the gradient is normalised by its L1 norm, as
   in the authors' code, so η is the L1 length of a step; Π is the exact projection onto
   {‖δ‖₀ ≤ k, lo ≤ δ ≤ hi}, so the positions are re-selected at every step.
3. **Restarts.** Clips not yet fooled start again from a new random point, ``restarts`` times.

Step size. The authors use one constant η for the whole run, with no decay (their CIFAR-10 setting
is η = 120000/255 for 3 072 values in [0, 1], i.e. 0.153 of the value range per value). Here
``eta`` is that per-sample figure in units of ε, so the L1 length of a step is eta·ε·N: the same
schedule rescaled from [0, 1] images to a clip of N samples with an ε-box.

Loss. The C&W margin by default (the objective of STAA-Net and sparse PGD here), or the authors'
cross-entropy (``loss="ce"``). The success of every iterate is checked before the step from it; a
fooled clip keeps that iterate and leaves the batch. A clip never fooled returns its last iterate.
Cost per restart: ``steps`` gradient evaluations plus one forward pass.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from staa.attacks.base import LOSSES, BudgetedAttack, SampleBudget, loss_gradient
from staa.attacks.l0 import project_sparse_box
from staa.errors import ConfigError

AUTHORS_ETA = 120000 / 255 / 3072  # the authors' CIFAR-10 η per value of the [0, 1] range


class PGD0(BudgetedAttack):
    """PGD with an L0 budget of ``k`` samples (or ``k_percent`` % of N) re-selected every step, within ε.

    ``steps`` defaults to 20 (the cost of sparse PGD-20) and ``restarts`` to 1; the paper runs
    several restarts of many more steps. ``seed`` gives the random starts their own generator. A clip
    leaves as soon as it is fooled; ``early_stop=False`` runs every step (what a timing compares).
    """

    name = "pgd0"

    def __init__(
        self,
        model: nn.Module,
        eps: float | None = None,
        *,
        eps_db: float | None = None,
        k: int | None = None,
        k_percent: float | None = None,
        steps: int = 20,
        restarts: int = 1,
        eta: float = AUTHORS_ETA,
        loss: str = "margin",
        random_start: bool = True,
        early_stop: bool = True,
        seed: int | None = None,
        targeted: bool = False,
        bounds: tuple[float, float] = (-1.0, 1.0),
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, eps, eps_db=eps_db, targeted=targeted, bounds=bounds, batch_size=batch_size)
        self.sample_budget = SampleBudget(k, k_percent, self.name, required=True)
        if steps < 1 or restarts < 1:
            raise ConfigError(f"pgd0: steps and restarts must be at least 1, got {steps} and {restarts}")
        if eta <= 0:
            raise ConfigError(f"pgd0: eta must be positive, got {eta}")
        if loss not in LOSSES:
            raise ConfigError(f"pgd0: unknown loss '{loss}' (expected one of {', '.join(LOSSES)})")
        self.k, self.k_percent = k, k_percent
        self.steps, self.restarts, self.eta = steps, restarts, float(eta)
        self.loss = loss
        self.random_start = random_start
        self.early_stop = early_stop
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def budget(self, n: int) -> int:
        """Samples that may change in a clip of ``n`` samples (rounded down, at least one)."""
        allowed = self.sample_budget.of(n)
        assert allowed is not None  # required=True
        return allowed

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        lo, hi = self._delta_bounds(x)
        k = self.budget(x.shape[1])
        x_adv = x.clone()
        pending = torch.ones(len(x), dtype=torch.bool, device=x.device)
        for _ in range(self.restarts):
            rows = pending.nonzero().squeeze(1)
            if not len(rows):
                break
            delta = self._start(lo[rows], hi[rows], k)
            rows, delta = self._descend(x, labels, rows, delta, lo, hi, k, x_adv, pending)
            if len(rows):
                x_adv[rows] = x[rows] + delta
                pending[rows[self.is_success(self.predict(x[rows] + delta), labels[rows])]] = False
        return x_adv

    def _start(self, lo: Tensor, hi: Tensor, k: int) -> Tensor:
        if not self.random_start:
            return torch.zeros_like(lo)
        u = torch.rand(lo.shape, generator=self.generator).to(lo.device)
        return project_sparse_box(lo + (hi - lo) * u, lo, hi, k)

    def _descend(
        self, x: Tensor, labels: Tensor, rows: Tensor, delta: Tensor, lo: Tensor, hi: Tensor, k: int,
        x_adv: Tensor, pending: Tensor,
    ) -> tuple[Tensor, Tensor]:  # fmt: skip
        """``steps`` projected steps; fooled clips are written to ``x_adv`` and leave. Returns the rest."""
        length = self.eta * self.clip_eps(x) * x.shape[1]  # (B, 1): each clip's ε
        for _ in range(self.steps):
            logits, _, grad = loss_gradient(
                self.model, x[rows] + delta, labels[rows], targeted=self.targeted, loss=self.loss
            )
            fooled = self.is_success(logits.argmax(-1), labels[rows])
            if not self.early_stop:  # every step runs (timing): the last iterate is the answer
                fooled = torch.zeros_like(fooled)
            x_adv[rows[fooled]] = x[rows[fooled]] + delta[fooled]
            pending[rows[fooled]] = False
            rows, delta, grad = rows[~fooled], delta[~fooled], grad[~fooled]
            if not len(rows):
                break
            step = length[rows] * grad / grad.abs().sum(dim=1, keepdim=True).clamp_min(1e-30)
            delta = project_sparse_box(delta - step, lo[rows], hi[rows], k)
        return rows, delta
