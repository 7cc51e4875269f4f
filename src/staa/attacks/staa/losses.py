"""The four STAA-Net losses (paper Eq. 3–7), each a norm per example averaged over the batch.

Two reductions over the N samples of a clip. ``"sum"`` is the paper's: ‖v‖₂, ‖m‖₁ and ‖∂ − m‖₂ as
written, so a weight means something else for every clip length (‖m‖₁ of a 6 s clip is 96 000 times
its density) and, per sample, the L2 terms pull with λ/√N — at N = 32 000 the paper's λ_m = 1e-3
moves a sample with 5.6e-6, nothing beside the adversarial term. ``"mean"`` normalises each term by
the clip: ‖v‖₂/√N (the RMS of v), ‖m‖₁/N (the share of perturbed samples), ‖∂ − m‖₂/√N, with v in
units of ε, so a weight means the same for any clip length and ε (λ_m = 1 costs as much as a full-ε
dense perturbation's RMS, λ_s = 1 as a mask of every sample).

Batch. The authors sum the C&W margins over the batch and take the L1/L2 norms over the whole
batch tensor (L2 not squared). Here every term is a per-example norm (L2 not squared, as the paper)
and the batch mean is taken. For the adversarial and sparsity terms this is the authors' loss divided
by B, which Adam's scale invariance makes equivalent; the L2 terms differ by √B, and they are two to
three orders of magnitude below the others at the paper's weights (docs/official-code.md §4.3). In return
the loss does not change with batch size or rank count, so the paper's λ_m = 1e-3, λ_s = 1e-4,
λ_q = 1e-4 mean the same thing in every run, and an adaptive λ_s sees a stable scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from staa.attacks.base import margin_loss


def adversarial_loss(
    logits: Tensor, labels: Tensor, *, targeted: bool = False, kappa: float = 0.0, focus: float | None = None
) -> Tensor:
    """L_adv (Eq. 3): C&W margin floored at −κ (the paper's confidence φ), batch mean.

    Untargeted, ``labels`` are the threat model's clean predictions and the margin pushes their logit
    below the best other class; targeted, they are the targets, pushed above every other class.
    With ``focus`` τ the mean is weighted towards the clips nearest the boundary
    (:func:`boundary_weights`); None is the paper's plain mean.
    """
    margins = margin_loss(logits, labels, targeted=targeted, kappa=kappa)
    return margins.mean() if focus is None else (boundary_weights(margins, focus) * margins).mean()


def boundary_weights(margins: Tensor, focus: float) -> Tensor:
    """Per-clip weights w ∝ exp(−max(margin, 0)/τ), detached and scaled to a batch mean of 1.

    Why. Success is counted per clip, but the C&W margin pulls every clip the attack has not yet fooled
    with the same force, however far it is from the boundary: a clip the threat holds with a margin of 10
    takes as much of the generator's capacity as one a nudge away. Weighting by the distance left turns the
    loss towards the count the attack is scored on (a smooth share of clips flipped, τ its sharpness); the
    clips already past the boundary all weigh the most, but their clamped margin (below −κ) pulls with nothing.
    """
    return torch.softmax(-margins.detach().clamp_min(0) / focus, dim=0) * margins.shape[0]


REDUCTIONS = ("sum", "mean")


def _l2(x: Tensor, reduction: str) -> Tensor:
    norm = x.norm(p=2, dim=-1)
    return (norm if reduction == "sum" else norm / x.shape[-1] ** 0.5).mean()


def magnitude_loss(magnitudes: Tensor, reduction: str = "sum", eps: float | Tensor = 1.0) -> Tensor:
    """L_mag = ‖v‖₂ (Eq. 4) on the magnitudes before masking, as paper and code (``mean``: RMS of v/ε)."""
    return _l2(magnitudes if reduction == "sum" else magnitudes / eps, reduction)


def sparsity_loss(positions: Tensor, reduction: str = "sum") -> Tensor:
    """L_spa = ‖m‖₁ (Eq. 5) on the train-mode mask (gradient through its continuous entries); ``mean``: ‖m‖₁/N.

    For the "w/o factorisation" ablation the paper applies it to v (‖v‖₁); the authors' code did not
    (docs/official-code.md §8.13), this function is given v by the trainer in that case.
    """
    total = positions.abs().sum(dim=-1)
    return (total if reduction == "sum" else total / positions.shape[-1]).mean()


def quantisation_loss(scores: Tensor, gamma: float, reduction: str = "sum") -> Tensor:
    """L_qua = ‖∂ − m‖₂ (Eq. 6) with m = [∂ ≥ γ] the inference mask (the authors' ‖H(∂) − ∂‖₂).

    The binary mask is a constant, so the gradient pulls every score towards the side of γ it is on:
    the gap between the mixed training mask and the binary inference mask closes.
    """
    hard = (scores >= gamma).to(scores.dtype).detach()
    return _l2(scores - hard, reduction)


def saliency_loss(scores: Tensor, gradient: Tensor) -> Tensor:
    """L_pos = 1 − corr(z, log|∂L_adv/∂x|) per clip, batch mean: the position scores learn where the threat
    model is sensitive.

    Why. A top-k mask learns positions from ∂L/∂m_i = v_i·∂L/∂x_i, the gain of switching a sample on with
    the magnitude the generator has there — near zero in expectation while v is not yet adversarial, and
    on real speech the sign of ∂L/∂x (what v would have to match) is close to unpredictable from the clip
    (research/position_oracle.py). The size of the gradient is smooth in time and follows the speech,
    and where it is large a perturbation of either sign moves the model most. Correlating the logits
    with its logarithm (scale-free: only the order of z matters to a top-k) teaches the position decoder
    that map, from the first, dense steps on. ``gradient`` is taken at x_adv and detached.
    """
    target = torch.log(gradient.abs() + 1e-12 * gradient.abs().mean(dim=-1, keepdim=True) + 1e-30)
    z = scores - scores.mean(dim=-1, keepdim=True)
    t = target - target.mean(dim=-1, keepdim=True)
    corr = (z * t).sum(-1) / (z.norm(dim=-1) * t.norm(dim=-1)).clamp_min(1e-12)
    return (1 - corr).mean()


@dataclass
class LossWeights:
    """λ_m, λ_s, λ_q of Eq. 7, whether the generator factorises δ (else the sparsity term is on v), the
    reduction over samples and ε (``mean`` measures v in units of ε)."""

    magnitude: float
    sparsity: float
    quantisation: float
    factorised: bool = True
    reduction: str = "sum"
    eps: float | Tensor = 1.0  # one, or one per clip (B, 1)


def staa_loss(
    logits: Sequence[Tensor],
    labels: Tensor,
    magnitudes: Tensor,
    mask: Tensor,
    scores: Tensor | None,
    weights: LossWeights,
    *,
    gamma: float = 0.5,
    targeted: bool = False,
    kappa: float = 0.0,
    focus: float | None = None,
) -> dict[str, Tensor]:
    """L = L_adv + λ_m·L_mag + λ_s·L_spa + λ_q·L_qua (Eq. 7); returns every term, each weighted term
    (``weighted_<term>``, what it adds to the total) and ``total``.

    ``logits`` holds one (B, C) tensor per threat model; with several (an ensemble) L_adv is their mean.

    Without factorisation (``weights.factorised = False``) the sparsity term is ‖v‖₁ and there is no
    quantisation term, as the paper's ablation. A term whose weight is zero is still reported. A top-k
    mask (``scores`` None here) is sparse by construction and has no quantisation gap to close.
    """
    r = weights.reduction
    sparse_on = mask if weights.factorised else magnitudes / (weights.eps if r == "mean" else 1.0)
    terms = {
        "adversarial": sum(adversarial_loss(z, labels, targeted=targeted, kappa=kappa, focus=focus) for z in logits)
        / len(logits),
        "magnitude": magnitude_loss(magnitudes, r, weights.eps),
        "sparsity": sparsity_loss(sparse_on, r),
    }
    lambdas = {"adversarial": 1.0, "magnitude": weights.magnitude, "sparsity": weights.sparsity}
    if weights.factorised and scores is not None:
        terms["quantisation"] = quantisation_loss(scores, gamma, r)
        lambdas["quantisation"] = weights.quantisation
    weighted = {f"weighted_{k}": lambdas[k] * v for k, v in terms.items() if k != "adversarial"}
    total = terms["adversarial"] + sum(weighted.values())
    return {**terms, **weighted, "total": total}
