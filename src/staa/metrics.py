"""Metrics of the paper, each computed the same way for every attack (from x_adv − x).

Formulas (per example i; δ_i = x_adv,i − x_i; N samples):

* accuracy = mean_i [ŷ_i = y_i]
* UAR = mean over classes c present in y of recall_c = #{ŷ=c, y=c} / #{y=c}
* ASR (untargeted, the paper's) = mean_i [f(x_adv,i) ≠ f(x_i)]   (flip of the model's own clean prediction)
* ASR (targeted) = mean_i [f(x_adv,i) = t_i]
* correct→wrong rate = #{f(x_i) = y_i and f(x_adv,i) ≠ y_i} / #{f(x_i) = y_i}   (the stricter rate)
* SNR_i (dB) = 20·log10(max_t |x_i,t| / max_t |δ_i,t|); +inf when δ_i ≡ 0, NaN when x_i is silent
* sparsity_i (%) = 100 · #{t : δ_i,t ≠ 0} / N
* mask Jaccard = mean over pairs i < j of |M_i ∩ M_j| / |M_i ∪ M_j|, M_i = {t : δ_i,t ≠ 0}
* mask periodicity_i = max over lags 2…512 of the autocorrelation of M_i − mean(M_i), normalised by lag 0

Means of SNR and sparsity are taken over successful examples, as in the paper; :func:`mean_snr`
excludes non-finite values and reports how many it excluded instead of returning inf or NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

ArrayLike = Tensor | np.ndarray | Sequence[int]


def _np(a: ArrayLike) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)


def accuracy(pred: ArrayLike, target: ArrayLike) -> float:
    p, t = _np(pred), _np(target)
    if p.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float((p == t).mean())


def confusion_matrix(pred: ArrayLike, target: ArrayLike, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (_np(target).astype(int), _np(pred).astype(int)), 1)
    return cm


def uar(pred: ArrayLike, target: ArrayLike, num_classes: int | None = None) -> float:
    """Unweighted average recall over the classes present in ``target`` (absent classes are skipped)."""
    p, t = _np(pred).astype(int), _np(target).astype(int)
    if t.size == 0:
        raise ValueError("UAR of an empty set is undefined")
    n = num_classes or int(max(p.max(), t.max())) + 1
    cm = confusion_matrix(p, t, n)
    support = cm.sum(axis=1)
    present = support > 0
    return float((np.diag(cm)[present] / support[present]).mean())


def succeeded(clean_pred: Any, adv_pred: Any, target: Any | None = None) -> Any:
    """Per clip, whether an attack succeeded: untargeted, the prediction flipped; targeted, it landed on
    ``target`` from another class. The one rule of every attack, ASR and targeted table: a clip the model
    already gave the target is no success (``staa attack targets`` leaves such clips out altogether).
    Works on NumPy arrays and tensors alike."""
    if target is None:
        return adv_pred != clean_pred
    return (adv_pred == target) & ~already_at_target(clean_pred, target)


def already_at_target(clean_pred: Any, target: Any) -> Any:
    """Per clip, whether the model already predicts ``target``: a targeted attack cannot succeed there."""
    return clean_pred == target


def attack_success_rate(clean_pred: ArrayLike, adv_pred: ArrayLike, target: ArrayLike | None = None) -> float:
    """Untargeted: share of predictions that flip; targeted: share that land on ``target`` (:func:`succeeded`)."""
    c, a = _np(clean_pred), _np(adv_pred)
    if c.size == 0:
        raise ValueError("ASR of an empty set is undefined")
    return float(succeeded(c, a, None if target is None else _np(target)).mean())


def correct_to_wrong_rate(clean_pred: ArrayLike, adv_pred: ArrayLike, labels: ArrayLike) -> float:
    """Share of correctly classified clips that the attack makes wrong; NaN when none was correct."""
    c, a, y = _np(clean_pred), _np(adv_pred), _np(labels)
    correct = c == y
    if not correct.any():
        return float("nan")
    return float((a[correct] != y[correct]).mean())


def snr_db(x: Tensor, delta: Tensor) -> Tensor:
    """Per-example peak SNR in dB, shape (B,): +inf for δ ≡ 0, NaN for a silent clip."""
    x, delta = torch.as_tensor(x).double(), torch.as_tensor(delta).double()
    peak_x = x.abs().amax(dim=-1)
    peak_d = delta.abs().amax(dim=-1)
    out = 20 * torch.log10(peak_x / peak_d)
    out = torch.where(peak_d == 0, torch.full_like(out, float("inf")), out)
    return torch.where(peak_x == 0, torch.full_like(out, float("nan")), out)


def sparsity(delta: Tensor) -> Tensor:
    """Per-example share (%) of perturbed samples, shape (B,)."""
    delta = torch.as_tensor(delta)
    return 100.0 * (delta != 0).double().mean(dim=-1)


@dataclass
class SNRSummary:
    """Mean SNR over the finite values, with the count of excluded δ = 0 (+inf) and silent (NaN) clips."""

    mean_db: float | None
    n_finite: int
    n_zero_perturbation: int
    n_silent: int


def median_snr(snr: Tensor) -> float | None:
    """Median SNR over the finite values (None when there are none): what the audibility warning reads."""
    values = torch.as_tensor(snr).double().numpy()
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


def mean_snr(snr: Tensor) -> SNRSummary:
    s = torch.as_tensor(snr).double()
    finite = torch.isfinite(s)
    return SNRSummary(
        mean_db=float(s[finite].mean()) if finite.any() else None,
        n_finite=int(finite.sum()),
        n_zero_perturbation=int(torch.isposinf(s).sum()),
        n_silent=int(torch.isnan(s).sum()),
    )


def mask_jaccard(delta: Tensor) -> float:
    """Mean pairwise Jaccard overlap of the perturbed positions of different clips (NaN below two clips).

    A perturbation that attacks the same samples in every clip — a universal position pattern such as
    an architectural comb — gives ≈ 1; independent random positions at sparsity s give ≈ s/(2 − s).
    Pairs whose masks are both empty are skipped (there is nothing to compare).
    """
    m = (torch.as_tensor(delta) != 0).double()
    if len(m) < 2:
        return float("nan")
    inter = m @ m.T
    size = m.sum(dim=1)
    union = size[:, None] + size[None, :] - inter
    i, j = torch.triu_indices(len(m), len(m), 1)
    keep = union[i, j] > 0
    return float((inter[i, j][keep] / union[i, j][keep]).mean()) if keep.any() else float("nan")


def mask_periodicity(delta: Tensor, lags: tuple[int, int] = (2, 512)) -> Tensor:
    """Per clip, the largest normalised autocorrelation of the mean-removed mask at lags 2…512, shape (B,).

    A periodic comb of period P ≤ 512 scores ≈ 1 (its mask repeats exactly at lag P); positions drawn
    at random score near 0. Masks made of runs of neighbouring samples also correlate at short lags,
    so the value says "structured", and the Jaccard overlap says whether the structure is shared by
    every clip. NaN for an empty or full mask (no variation to correlate).
    """
    m = (torch.as_tensor(delta) != 0).double()
    m = m - m.mean(dim=-1, keepdim=True)
    n = m.shape[-1]
    lo, hi = lags[0], min(lags[1], n - 1)
    spectrum = torch.fft.rfft(m, 2 * n)
    acf = torch.fft.irfft(spectrum * spectrum.conj(), 2 * n)[..., : hi + 1]
    energy = acf[..., 0]
    peak = (acf[..., lo:].amax(dim=-1) if hi >= lo else torch.zeros_like(energy)) / energy
    return torch.where(energy > 0, peak, torch.full_like(peak, float("nan")))
