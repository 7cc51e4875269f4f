"""From position scores to the binary mask m of δ = v ⊗ m: the paper's threshold, or a per-clip top-k.

``threshold`` (the paper, Eq. 2 as the authors' code applies it): m = [∂ ≥ γ] with ∂ = (tanh(z) + 1)/2.
In training each element keeps its continuous score with probability ``quant_prob`` and otherwise
takes the detached binary value; the ‖m‖₁ loss then sets how many samples survive. Measured on real
speech (EmoDB, Emo18), this mask empties within a few Adam steps: per sample the sparsity term's pull
(λ_s) is larger than the adversarial term's gradient, and a score below γ gets no gradient at all (its
binary branch is detached), so an empty mask never recovers. Training and inference also apply
different masks (a dense, scaled-down mix against a binary one).

``topk`` (the default of the fast generators): m keeps the k = ⌊s·N/100⌋ highest scores of each clip
(s the sparsity budget in %), so δ is sparse by construction and no loss term has to fight the attack
for it. The forward value is the binary mask, in training and at inference alike; the backward pass
is straight-through a sigmoid centred between the k-th and the (k+1)-th score, p = σ(z − τ), so every
position — selected or not — receives ∂L/∂m_i = v_i·∂L/∂x_i, the first-order gain of switching it on,
weighted most where the choice is close. The scores reported are the logits z themselves: only their
order within a clip matters.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def budget(k_percent: float, n: int) -> int:
    """Samples a clip of ``n`` may change at ``k_percent`` %: rounded down, at least one."""
    return max(1, min(n, math.floor(k_percent * n / 100 + 1e-9)))


def threshold_mask(scores: Tensor, gamma: float, quant_prob: float, training: bool) -> Tensor:
    """Binary [∂ ≥ γ] in eval mode; in training a per-element mix of ∂ and the detached binary value."""
    hard = (scores >= gamma).to(scores.dtype)
    if not training:
        return hard
    keep_soft = torch.rand(scores.shape, device=scores.device) < quant_prob
    return torch.where(keep_soft, scores, hard.detach())


def topk_mask(logits: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """(m, p): the binary top-``k`` mask of each row with a straight-through gradient through p = σ(z − τ)."""
    n = logits.shape[-1]
    if k >= n:
        soft = torch.sigmoid(logits - logits.detach().amin(-1, keepdim=True) + 1.0)
        return torch.ones_like(logits) + (soft - soft.detach()), soft
    top = torch.topk(logits.detach(), k + 1, dim=-1, sorted=False)  # a third cheaper than sorted on a long clip
    lowest = torch.topk(top.values, 2, dim=-1, largest=False)  # the (k+1)-th and the k-th highest
    tau = lowest.values.mean(-1, keepdim=True)
    soft = torch.sigmoid(logits - tau)
    hard = torch.zeros_like(logits).scatter_(-1, top.indices, 1.0)
    hard.scatter_(-1, top.indices.gather(-1, lowest.indices[..., :1]), 0.0)  # all but the (k+1)-th
    return hard + (soft - soft.detach()), soft  # forward: exactly the binary mask
