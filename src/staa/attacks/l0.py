"""The exact projection onto a sparse box, shared by PGD₀ and FMN-L0.

The set is {δ : ‖δ‖₀ ≤ k, lo ≤ δ ≤ hi} with lo ≤ 0 ≤ hi per sample (the ε-ball intersected with the
amplitude range, written relative to the clean clip). For a proposal y the Euclidean projection is
found per sample (Croce & Hein, 2019): the best value of a kept sample is its clipped value
c = clip(y, lo, hi), and keeping it instead of zeroing it lowers the distance to y by

    gain = y² − (y − c)²  ≥ 0,

so the projection keeps the k samples of largest gain at their clipped values and zeroes the rest.
With a symmetric box the gain grows with |y| and this is "top-k by magnitude, then clip"; on a clip
near the amplitude limits the box is lopsided and the two differ.
"""

from __future__ import annotations

import torch
from torch import Tensor


def project_sparse_box(y: Tensor, lo: Tensor, hi: Tensor, k: int | Tensor) -> Tensor:
    """Project rows of ``y`` (B, N) onto ‖δ‖₀ ≤ k and lo ≤ δ ≤ hi; ``k`` is one count or one per row."""
    clipped = torch.minimum(torch.maximum(y, lo), hi)
    gain = y.square() - (y - clipped).square()
    n = y.shape[1]
    if isinstance(k, int):
        if k >= n:
            return clipped
        kept = gain.topk(k, dim=1).indices
        return torch.zeros_like(y).scatter_(1, kept, clipped.gather(1, kept))
    counts = k.to(y.device).long().clamp(0, n)
    # Per-row budgets: rank every sample by gain once and keep each row's first k_row.
    order = gain.argsort(dim=1, descending=True, stable=True)
    keep_sorted = torch.arange(n, device=y.device)[None] < counts[:, None]
    keep = torch.zeros_like(keep_sorted).scatter_(1, order, keep_sorted)
    return clipped * keep


class SparsestFooling:
    """Per clip, the perturbation with the fewest changed samples among those that fooled the model.

    A minimum-norm attack wanders through feasible and infeasible iterates; this keeps its answer.
    A clip never fooled keeps δ = 0 (and reports ``l0`` = inf until it is fooled).
    """

    def __init__(self, like: Tensor) -> None:
        self.delta = torch.zeros_like(like)
        self.l0 = torch.full((len(like),), float("inf"), device=like.device)

    def update(self, delta: Tensor, fooled: Tensor) -> None:
        l0 = (delta != 0).sum(dim=1).to(self.l0.dtype)
        better = fooled & (l0 < self.l0)
        self.delta[better] = delta[better]
        self.l0[better] = l0[better]
