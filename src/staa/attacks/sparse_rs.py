"""Sparse-RS (Croce, Andriushchenko, Singh, Flammarion & Hein, AAAI 2022), the L0 attack, on raw audio.

A score-based black-box attack: it reads only the model's logits, like One-Pixel, but searches far
more efficiently. Each clip carries a perturbation of exactly k changed samples, each at ±ε (the
corners of the L∞ box, as the authors use the corners of the colour cube; clipped to the amplitude
range). One query per iteration and clip:

1. **Candidate.** m = max(1, ⌊α·k⌋) of the k changed samples return to their clean value and m
   unchanged samples, drawn uniformly, change to a random ±ε.
2. **Accept** the candidate if its loss is strictly lower than the current one, or if it fools the
   model; a clip that is fooled stops there (early stop per clip).

α follows the authors' piecewise-constant L0 schedule: α_init for the first query, then α_init/2,
/4, /5, /6, /8, /10, /12, /15, /20 after 50, 200, 500, 1 000, 2 000, 4 000, 6 000 and 8 000 of
10 000 queries, rescaled to the budget ``queries`` (so large changes explore first, single swaps
refine at the end). Loss: the margin z_y − max_{j≠y} z_j untargeted, the cross-entropy of the target
class targeted (the authors' choices). ``alpha_init`` defaults to their untargeted 0.3; they use
0.1 with ten times the queries for targeted attacks.

Queries are batched: all clips of a batch that are not yet fooled are scored in one forward pass per
iteration. As in the authors' code, the slots of the position lists drawn in an iteration are shared by
the batch; each clip's lists hold its own positions in its own random order, so every clip still
draws uniformly among its own samples. ``queries`` counts the initial query: no clip costs more.
"""

from __future__ import annotations

import bisect

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from staa.attacks.base import BudgetedAttack, SampleBudget
from staa.errors import ConfigError
from staa.runtime.progress import inner

# Queries (of 10 000) after which α is divided by the next factor.
SCHEDULE_QUERIES = (50, 200, 500, 1000, 2000, 4000, 6000, 8000)
SCHEDULE_FACTORS = (2, 4, 5, 6, 8, 10, 12, 15, 20)


def alpha_schedule(alpha_init: float, iteration: int, queries: int) -> float:
    """α at ``iteration`` (1-based) of a budget of ``queries``: the authors' L0 schedule, rescaled."""
    scaled = int(iteration / queries * 10000)
    if scaled <= 0:
        return alpha_init
    return alpha_init / SCHEDULE_FACTORS[bisect.bisect_left(SCHEDULE_QUERIES, scaled)]


class SparseRS(BudgetedAttack):
    """Random search over k changed samples at ±ε; ``queries`` model queries per clip at most."""

    name = "sparse_rs"

    def __init__(
        self,
        model: nn.Module,
        eps: float | None = None,
        *,
        eps_db: float | None = None,
        k: int | None = None,
        k_percent: float | None = None,
        queries: int = 10000,
        alpha_init: float = 0.3,
        seed: int | None = None,
        targeted: bool = False,
        bounds: tuple[float, float] = (-1.0, 1.0),
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, eps, eps_db=eps_db, targeted=targeted, bounds=bounds, batch_size=batch_size)
        self.sample_budget = SampleBudget(k, k_percent, self.name, required=True)
        if queries < 1:
            raise ConfigError(f"sparse_rs: queries must be at least 1, got {queries}")
        if not 0 < alpha_init <= 1:
            raise ConfigError(f"sparse_rs: alpha_init must be in (0, 1], got {alpha_init}")
        self.k, self.k_percent = k, k_percent
        self.queries = queries
        self.alpha_init = float(alpha_init)
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def budget(self, n: int) -> int:
        """Samples changed in a clip of ``n`` samples (rounded down, at least one)."""
        allowed = self.sample_budget.of(n)
        assert allowed is not None  # required=True
        return allowed

    @torch.no_grad()
    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        b, n = x.shape
        k = self.budget(n)
        order = torch.rand(b, n, generator=self.generator).argsort(dim=1).to(x.device)
        inside, outside = order[:, :k].clone(), order[:, k:].clone()  # changed / unchanged positions
        delta = torch.zeros_like(x).scatter_(1, inside, self._corners(x, inside))
        loss, fooled = self._score(x, delta, labels)
        rows = (~fooled).nonzero().squeeze(1)
        for iteration in inner(range(1, self.queries), f"{self.name}: queries on {b} clips", self.queries - 1):
            if not len(rows):
                break
            m = max(1, int(alpha_schedule(self.alpha_init, iteration, self.queries) * k))
            m = min(m, n - k) if n > k else m
            slot_in = torch.randperm(k, generator=self.generator)[:m].to(x.device)
            leave = inside[rows][:, slot_in]
            if n > k:
                slot_out = torch.randperm(n - k, generator=self.generator)[:m].to(x.device)
                enter = outside[rows][:, slot_out]
            else:  # every sample is changed already: redraw the values of the m chosen ones
                enter = leave
            candidate = delta[rows].scatter(1, leave, 0.0).scatter_(1, enter, self._corners(x[rows], enter))
            new_loss, new_fooled = self._score(x[rows], candidate, labels[rows])
            better = (new_loss < loss[rows]) | new_fooled
            won = rows[better]
            delta[won], loss[won] = candidate[better], new_loss[better]
            if n > k:
                inside[won[:, None], slot_in] = enter[better]
                outside[won[:, None], slot_out] = leave[better]
            rows = rows[~new_fooled]
        return x + delta

    def _corners(self, x: Tensor, positions: Tensor) -> Tensor:
        """A random ±ε for each of ``positions`` (B, m), clipped so that x + δ stays in range."""
        sign = torch.randint(0, 2, positions.shape, generator=self.generator).to(x.device) * 2 - 1
        clean = x.gather(1, positions)
        return (clean + sign * self.clip_eps(x)).clamp(*self.bounds) - clean

    def _score(self, x: Tensor, delta: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """One query per row: the loss the search lowers and whether the row is fooled."""
        logits = self.model(x + delta)
        if self.targeted:
            loss = F.cross_entropy(logits, labels, reduction="none")
        else:
            true = logits.gather(1, labels[:, None]).squeeze(1)
            loss = true - logits.scatter(1, labels[:, None], float("-inf")).amax(dim=1)
        return loss, self.is_success(logits.argmax(-1), labels)
