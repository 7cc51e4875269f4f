"""The four STAA-Net losses (paper Eq. 3–7), each a norm per example averaged over the batch.

Reduction. The authors sum the C&W margins over the batch and take the L1/L2 norms over the whole
batch tensor (L2 not squared). Here every term is a per-example norm (L2 not squared, as the paper)
and the batch mean is taken. For the adversarial and sparsity terms this is the authors' loss divided
by B, which Adam's scale invariance makes equivalent; the L2 terms differ by √B, and they are two to
three orders of magnitude below the others at the paper's weights (official-code.md §4.3). In return
the loss does not change with batch size or rank count, so the paper's λ_m = 1e-3, λ_s = 1e-4,
λ_q = 1e-4 mean the same thing in every run, and an adaptive λ_s sees a stable scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from staa.attacks.base import margin_loss


def adversarial_loss(logits: Tensor, labels: Tensor, *, targeted: bool = False, kappa: float = 0.0) -> Tensor:
    """L_adv (Eq. 3): C&W margin floored at −κ (the paper's confidence φ), batch mean.

    Untargeted, ``labels`` are the threat model's clean predictions and the margin pushes their logit
    below the best other class; targeted, they are the targets, pushed above every other class.
    """
    return margin_loss(logits, labels, targeted=targeted, kappa=kappa).mean()


def magnitude_loss(magnitudes: Tensor) -> Tensor:
    """L_mag = ‖v‖₂ (Eq. 4) on the magnitudes before masking, as paper and code."""
    return magnitudes.norm(p=2, dim=-1).mean()


def sparsity_loss(positions: Tensor) -> Tensor:
    """L_spa = ‖m‖₁ (Eq. 5) on the train-mode mask (gradient through its continuous entries).

    For the "w/o factorisation" ablation the paper applies it to v (‖v‖₁); the authors' code did not
    (official-code.md §8.13), this function is given v by the trainer in that case.
    """
    return positions.abs().sum(dim=-1).mean()


def quantisation_loss(scores: Tensor, gamma: float) -> Tensor:
    """L_qua = ‖∂ − m‖₂ (Eq. 6) with m = [∂ ≥ γ] the inference mask (the authors' ‖H(∂) − ∂‖₂).

    The binary mask is a constant, so the gradient pulls every score towards the side of γ it is on:
    the gap between the mixed training mask and the binary inference mask closes.
    """
    hard = (scores >= gamma).to(scores.dtype).detach()
    return (scores - hard).norm(p=2, dim=-1).mean()


@dataclass
class LossWeights:
    """λ_m, λ_s, λ_q of Eq. 7 and whether the generator factorises δ (else the sparsity term is on v)."""

    magnitude: float
    sparsity: float
    quantisation: float
    factorised: bool = True


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
) -> dict[str, Tensor]:
    """L = L_adv + λ_m·L_mag + λ_s·L_spa + λ_q·L_qua (Eq. 7); returns every term and ``total``.

    ``logits`` holds one (B, C) tensor per threat model; with several (an ensemble) L_adv is their mean.

    Without factorisation (``weights.factorised = False``) the sparsity term is ‖v‖₁ and there is no
    quantisation term, as the paper's ablation. A term whose weight is zero is still reported.
    """
    terms = {
        "adversarial": sum(adversarial_loss(z, labels, targeted=targeted, kappa=kappa) for z in logits) / len(logits),
        "magnitude": magnitude_loss(magnitudes),
        "sparsity": sparsity_loss(mask if weights.factorised else magnitudes),
    }
    total = terms["adversarial"] + weights.magnitude * terms["magnitude"] + weights.sparsity * terms["sparsity"]
    if weights.factorised and scores is not None:
        terms["quantisation"] = quantisation_loss(scores, gamma)
        total = total + weights.quantisation * terms["quantisation"]
    terms["total"] = total
    return terms
