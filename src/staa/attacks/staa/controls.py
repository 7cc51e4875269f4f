"""Controls that ask whether a trained generator's *positions* carry information.

A sparse perturbation can fool a model because of where it is or merely because of how much of it
there is. Both controls keep the generator's own magnitudes v and the number of perturbed samples of
every clip, and change only where they go:

* ``random``: the same count of positions drawn uniformly at random (seeded) in each clip;
* ``comb``: a periodic comb, every ⌈N/k⌉-th sample from the first — what an architecture that
  imposes a lattice would produce (docs/official-code.md §6: the paper's sparsities are lattice fractions).

If STAA-Net's success is not clearly above both, its position decoder has learned nothing the
magnitudes could not do anywhere.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from staa.attacks.base import Attack, frozen
from staa.attacks.staa.attack import generator_budget
from staa.attacks.staa.generator import Generator
from staa.errors import ConfigError

KINDS = ("random", "comb")


def random_positions(counts: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """(B, n) binary mask with ``counts[i]`` uniformly drawn positions in row i."""
    order = torch.rand(len(counts), n, generator=generator).argsort(dim=-1)
    ranks = torch.empty_like(order).scatter_(-1, order, torch.arange(n).expand(len(counts), n))
    return (ranks < counts[:, None].cpu()).float()


def comb_positions(counts: Tensor, n: int) -> Tensor:
    """(B, n) binary mask keeping every ⌈n/k⌉-th sample (k = ``counts[i]``, none when k = 0)."""
    rows = []
    for k in counts.tolist():
        row = torch.zeros(n)
        if k > 0:
            row[:: math.ceil(n / k)] = 1.0
        rows.append(row)
    return torch.stack(rows)


class MaskControl(Attack):
    """``MaskControl(model, generator, kind="random")``: the generator's v on control positions."""

    name = "staa_mask_control"
    control = True

    def __init__(
        self,
        model: nn.Module,
        generator: Generator,
        kind: str = "random",
        eps: float | None = None,
        *,
        eps_db: float | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        if kind not in KINDS:
            raise ConfigError(f"{self.name}: kind must be one of {', '.join(KINDS)}, got '{kind}'")
        super().__init__(model, **generator_budget(generator, eps, eps_db), **kwargs)
        self.generator, self.kind, self.seed = generator, kind, seed

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        self.generator.to(x.device)
        with frozen(self.generator), torch.no_grad():
            out = self.generator(x, eps=self.clip_eps(x))
        counts = (out.delta != 0).sum(dim=-1)
        n = x.shape[-1]
        if self.kind == "random":
            rng = torch.Generator().manual_seed(self.seed)
            mask = random_positions(counts, n, rng)
        else:
            mask = comb_positions(counts, n)
        return torch.clamp(x + out.magnitudes * mask.to(x.device), *self.bounds)
