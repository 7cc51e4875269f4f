"""One-Pixel attack (Su et al., 2019) on raw audio: differential evolution over (position, value) genes.

A candidate changes ``pixels`` samples of a clip. Its genome holds, per changed sample, a position in
[0, N) and a value in [−ε, ε] (stored in units of the clip's ε): an **additive** change x[p] += v by default (so |δ|∞ ≤ ε like every other
attack here), or the authors' **multiplicative** one, x[p] ← x[p]·(1 + v), where the absolute change
is at most ε·|x[p]| (``multiplicative=True``).

Differential evolution follows the authors' SciPy settings: strategy best/1/bin with recombination 1
(a trial is the mutant best + F·(x_r1 − x_r2)), mutation F drawn in [0.5, 1) each generation,
Latin-hypercube initialisation, a population of ``popsize`` candidates, ``iterations`` generations,
no tolerance stop and no polishing; a gene that leaves its bounds is redrawn uniformly inside them,
as SciPy does. Unlike the authors' code (one forward pass per candidate, on un-normalised audio), the
whole population of every clip in the batch is scored in batched forward passes of the model itself,
so the attacker optimises exactly the function that is evaluated.

Objective (minimised): the softmax probability of the label (untargeted) or 1 − p(target) (targeted),
as in Su et al.; the authors used the raw logit of the label, which is not comparable across clips. A
clip stops as soon as any evaluated candidate fools the model; the best such candidate is kept. A
clip that is never fooled returns its best candidate.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from staa.attacks.base import Attack
from staa.errors import ConfigError
from staa.runtime.progress import inner

#: Beyond this many changed samples differential evolution is no longer a few-pixel attack: its genome
#: grows with them and it becomes a slow random search that a budgeted attack does better and names truly.
MAX_PIXELS = 100


class OnePixel(Attack):
    """Query-only sparse attack: ``pixels`` changed samples per clip, found by differential evolution.

    ``seed`` gives the evolution its own generator; without it every draw comes from torch's global
    generator, which :func:`staa.evaluation.adversarial_set.craft_adversarial_set` seeds per chunk.
    """

    name = "onepixel"

    def __init__(
        self,
        model: nn.Module,
        eps: float | None = None,
        *,
        eps_db: float | None = None,
        pixels: int = 1,
        popsize: int = 300,
        iterations: int = 20,
        multiplicative: bool = False,
        mutation: tuple[float, float] = (0.5, 1.0),
        query_batch: int = 16,
        seed: int | None = None,
        targeted: bool = False,
        bounds: tuple[float, float] = (-1.0, 1.0),
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, eps, eps_db=eps_db, targeted=targeted, bounds=bounds, batch_size=batch_size)
        if not 1 <= pixels <= MAX_PIXELS:
            raise ConfigError(f"onepixel: pixels must be 1 to {MAX_PIXELS}, got {pixels} (a few-sample search; for a "
                              "budget in % of the clip use pgd, pgd0 or sparse_rs with k_percent)")  # fmt: skip
        if popsize < 4:
            raise ConfigError(f"onepixel: popsize must be at least 4, got {popsize}")
        if iterations < 0:
            raise ConfigError(f"onepixel: iterations must be non-negative, got {iterations}")
        if not 0 <= mutation[0] <= mutation[1] <= 2:
            raise ConfigError(f"onepixel: mutation must be a range inside [0, 2], got {mutation}")
        if query_batch < 1:
            raise ConfigError(f"onepixel: query_batch must be at least 1, got {query_batch}")
        self.pixels = pixels
        self.popsize = popsize
        self.iterations = iterations
        self.multiplicative = multiplicative
        self.mutation = mutation
        self.query_batch = query_batch
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    # ---- differential evolution ---------------------------------------------------------------------
    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        low, high = self._gene_bounds(x.shape[1], x.device)
        pop = low + (high - low) * self._latin_hypercube(len(x), x.device)
        fitness, fooled = self._score(x, labels, pop)
        best = fitness.argmin(dim=1)
        rows = torch.arange(len(x), device=x.device)
        champion = pop[rows, best]
        self._keep_fooled(champion, pop, fitness, fooled)
        active = rows[~fooled.any(dim=1)]
        for _ in inner(range(self.iterations), f"{self.name}: generations on {len(x)} clips", self.iterations):
            if not len(active):
                break
            a = active
            trial = self._mutants(pop[a], fitness[a].argmin(dim=1), low, high)
            f_trial, fooled_trial = self._score(x[a], labels[a], trial)
            better = f_trial < fitness[a]
            pop[a] = torch.where(better[..., None], trial, pop[a])
            fitness[a] = torch.where(better, f_trial, fitness[a])
            leaders = pop[a, fitness[a].argmin(dim=1)]
            self._keep_fooled(leaders, trial, f_trial, fooled_trial)
            champion[a] = leaders
            active = a[~fooled_trial.any(dim=1)]
        return self.apply(x, champion)

    def _mutants(self, pop: Tensor, best: Tensor, low: Tensor, high: Tensor) -> Tensor:
        """best/1/bin with recombination 1: best + F·(x_r1 − x_r2), r1 ≠ r2 ≠ the candidate itself."""
        b, p, _ = pop.shape
        own = torch.arange(p)[None].expand(b, p)
        o1 = torch.randint(1, p, (b, p), generator=self.generator)
        o2 = torch.randint(1, p - 1, (b, p), generator=self.generator)
        o2 = o2 + (o2 >= o1).long()
        r1, r2 = ((own + o1) % p).to(pop.device), ((own + o2) % p).to(pop.device)
        f = self.mutation[0] + (self.mutation[1] - self.mutation[0]) * torch.rand((), generator=self.generator).item()
        rows = torch.arange(b, device=pop.device)[:, None]
        trial = pop[rows.squeeze(1), best][:, None] + f * (pop[rows, r1] - pop[rows, r2])
        redraw = low + (high - low) * torch.rand(trial.shape, generator=self.generator).to(pop.device)
        outside = (trial < low) | (trial > high)
        return torch.where(outside, redraw, trial)

    def _latin_hypercube(self, b: int, device: torch.device) -> Tensor:
        """(b, popsize, genes) in [0, 1): each gene's range cut into popsize strata, one sample per stratum."""
        shape = (b, self.popsize, 2 * self.pixels)
        strata = torch.rand(shape, generator=self.generator).argsort(dim=1)
        return ((strata + torch.rand(shape, generator=self.generator)) / self.popsize).to(device)

    def _gene_bounds(self, n: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """Genes alternate (position, value): positions in [0, n), values in [−1, 1] in units of the clip's ε."""
        low = torch.tensor([0.0, -1.0] * self.pixels, device=device)
        high = torch.tensor([float(n), 1.0] * self.pixels, device=device)
        return low, high

    @staticmethod
    def _keep_fooled(champion: Tensor, pop: Tensor, fitness: Tensor, fooled: Tensor) -> None:
        """Where some candidate fools the model, make the best fooling candidate the clip's champion."""
        hit = fooled.any(dim=1)
        if hit.any():
            pick = fitness.masked_fill(~fooled, float("inf")).argmin(dim=1)
            champion[hit] = pop[hit, pick[hit]]

    # ---- candidates → audio → scores ----------------------------------------------------------------
    def apply(self, x: Tensor, genome: Tensor) -> Tensor:
        """Audio of one candidate per clip: ``genome`` (B, 2·pixels) applied to ``x`` (B, N)."""
        positions = genome[:, 0::2].long().clamp(0, x.shape[1] - 1)
        values = genome[:, 1::2] * self.clip_eps(x)
        if self.multiplicative:
            values = values * x.gather(1, positions)
        return self._project(x, x.scatter_add(1, positions, values))

    @torch.no_grad()
    def _score(self, x: Tensor, labels: Tensor, pop: Tensor) -> tuple[Tensor, Tensor]:
        """Objective and success of every candidate, (B, P) each, in forward passes of ``query_batch`` clips."""
        b, p, genes = pop.shape
        flat = pop.reshape(b * p, genes)
        owner = torch.arange(b, device=x.device).repeat_interleave(p)
        fitness, fooled = [], []
        for start in range(0, b * p, self.query_batch):
            idx = owner[start : start + self.query_batch]
            logits = self.model(self.apply(x[idx], flat[start : start + self.query_batch]))
            prob = logits.softmax(-1).gather(1, labels[idx][:, None]).squeeze(1)
            fitness.append(1 - prob if self.targeted else prob)
            fooled.append(self.is_success(logits.argmax(-1), labels[idx]))
        return torch.cat(fitness).view(b, p), torch.cat(fooled).view(b, p)
