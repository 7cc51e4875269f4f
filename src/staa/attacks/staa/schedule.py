"""How the mask tightens during training: a dense start, then the budget reached gradually.

Why not the budget from the first step. A fresh generator's magnitudes v are not yet adversarial, so
the first-order gain of switching a sample on (what its position score learns from) is noise; a
top-k mask chosen from it, or a threshold mask pushed by λ_s, settles on positions before anything
is worth placing there — on real speech the paper's mask emptied within a few steps. A dense start
lets v become adversarial everywhere first; then the kept share falls geometrically from 100 % to the
budget, so each step removes the same fraction of the samples still kept (the least useful ones).

For a top-k mask :meth:`DensitySchedule.pct` is the share of samples kept at a step. For the paper's
threshold mask the same schedule scales the sparsity and quantisation weights instead (0 during the
dense start, rising to their full value over the annealing steps) — what earlier versions called a
warm-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from staa.errors import ConfigError


@dataclass(frozen=True)
class DensitySchedule:
    """``dense_steps`` at 100 %, then ``anneal_steps`` of geometric decay to ``target_pct``."""

    target_pct: float
    dense_steps: int = 0
    anneal_steps: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.target_pct <= 100:
            raise ConfigError(f"mask schedule: target must be in (0, 100] %, got {self.target_pct}")
        if self.dense_steps < 0 or self.anneal_steps < 0:
            raise ConfigError("mask schedule: dense_steps and anneal_steps must be ≥ 0")

    def fitted(self, steps: int) -> DensitySchedule:
        """This schedule, or, if it would not settle within a run of ``steps``, shrunk proportionally to
        settle by the middle of the run.

        A preset's schedule is sized for its own length; a shorter run (a few passes over a small corpus,
        a test) would otherwise end dense and never be measured within its budget.
        """
        if self.settled < steps:
            return self
        scale = steps / (2 * self.settled)
        return DensitySchedule(self.target_pct, int(self.dense_steps * scale), max(1, round(self.anneal_steps * scale)))

    @property
    def settled(self) -> int:
        """Steps after which the budget is in force (a checkpoint saved earlier is not within the budget)."""
        return self.dense_steps + self.anneal_steps

    def progress(self, step: int) -> float:
        """0 during the dense start, rising linearly to 1 at the last annealing step (index ``settled − 1``)."""
        if step < self.dense_steps:
            return 0.0
        if step + 1 >= self.settled:
            return 1.0
        return (step - self.dense_steps + 1) / self.anneal_steps

    def pct(self, step: int) -> float:
        """Share (%) of samples a top-k mask keeps at ``step`` (0-based): exactly 100 dense, the target once settled."""
        t = self.progress(step)
        if t in (0.0, 1.0):
            return 100.0 if t == 0.0 else self.target_pct
        return math.exp((1 - t) * math.log(100.0) + t * math.log(self.target_pct))
