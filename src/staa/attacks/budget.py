"""The amplitude budget of an attack: an absolute ε, or ``eps_db`` decibels under each clip's peak.

An absolute ε (``eps``, raw waveform units) attacks a loud corpus quietly and a quiet one loudly: ε 0.05
sits 26 dB under an EmoDB clip but 9 dB under a RAVDESS one. A relative budget gives every clip its own

    ε_clip = peak(x) · 10^(−eps_db / 20),

so δ's peak is at least ``eps_db`` dB under the clip's peak on any corpus, at any recording level.

Why the peak and not the active-speech RMS: the two differ by the clip's crest factor (peak over active
RMS), and its median is the same on the EmoDB and RAVDESS subsets (16.9 dB each; 2.6 dB lower on the
synthetic corpus), so on real speech either keeps δ at the same level under the heard speech from corpus to
corpus (``research/budget_reference.py``, docs/budgets.md). The peak needs no voice-activity threshold,
and it is what the reported SNR (:func:`staa.metrics.snr_db`, a peak SNR) divides by: an attack that spends
its whole budget reports exactly ``eps_db`` on every corpus, the synthetic one included, where an
active-RMS reference would move each corpus's peak SNR by its crest factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from staa.errors import ConfigError

MAX_EPS_DB = 120.0  # δ a million times under the clip: anything quieter is no attack


def clip_peak(x: Tensor) -> Tensor:
    """The reference level of a relative budget: each clip's peak max |x|, shape (B, 1), without gradient."""
    return x.detach().abs().amax(dim=-1, keepdim=True)


def eps_from_db(x: Tensor, eps_db: float) -> Tensor:
    """Per-clip ε of shape (B, 1) for clips ``x`` (B, N): each clip's peak, ``eps_db`` dB lower (0 for a silent clip)."""
    return (clip_peak(x) * 10 ** (-eps_db / 20)).clamp(max=1.0)


def eps_to_db(x: Tensor, eps: Tensor) -> Tensor:
    """The relative budget, shape (B,), that ε (B, 1) or a float is under each clip's peak (−inf for a silent clip)."""
    peak = clip_peak(x).squeeze(-1).double()
    eps = torch.as_tensor(eps, dtype=torch.float64).reshape(-1).expand(len(peak))
    return 20 * torch.log10(peak / eps)


@dataclass(frozen=True)
class AmplitudeBudget:
    """An attack's L∞ budget: exactly one of ``eps`` (absolute, in (0, 1]) and ``eps_db`` (relative, ≥ 0 dB)."""

    eps: float | None = None
    eps_db: float | None = None
    owner: str = "attack"

    def __post_init__(self) -> None:
        if (self.eps is None) == (self.eps_db is None):
            raise ConfigError(f"{self.owner}: give exactly one amplitude budget, eps (absolute) or eps_db (relative)")
        if self.eps is not None and (_not_number(self.eps) or not 0 < self.eps <= 1):
            raise ConfigError(f"{self.owner}: eps must be in (0, 1], got {self.eps}")
        if self.eps_db is not None and (_not_number(self.eps_db) or not 0 <= self.eps_db <= MAX_EPS_DB):
            raise ConfigError(f"{self.owner}: eps_db must be in [0, {MAX_EPS_DB:g}] dB, got {self.eps_db}")

    @property
    def relative(self) -> bool:
        return self.eps_db is not None

    def of(self, x: Tensor) -> Tensor:
        """ε per clip, shape (B, 1), on ``x``'s device and dtype: the absolute ε repeated, or :func:`eps_from_db`."""
        if self.eps_db is None:
            return torch.full((len(x), 1), float(self.eps), dtype=x.dtype, device=x.device)
        return eps_from_db(x, self.eps_db).to(x.dtype)


def budget_claim(budget: dict[str, float | None]) -> dict[str, float | None]:
    """A budget (``eps``, ``eps_db``) as folder claims and records store it: ``eps``, and ``eps_db`` only when
    set, so that the claims of folders made under an absolute ε before relative budgets existed still match."""
    return {"eps": budget.get("eps"), **({"eps_db": budget["eps_db"]} if budget.get("eps_db") is not None else {})}


def _not_number(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
