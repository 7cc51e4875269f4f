"""Waveform augmentation for SER training on small corpora: batched, seeded, on prepared clips.

Each training clip is changed by, in this order:

1. **same-class mixing** (with probability ``mix_prob``): another training clip *of the same emotion* is
   added ``mix_db`` dB below the clip's own level (RMS). The label stays right, so this is not mixup
   across classes; it shows the model two voices of one emotion at once, which a model trained on
   two or three speakers has otherwise never heard;
2. **speed perturbation and random crop** in one resampling: the clip is read at speed factors
   uniform in ``[1 - speed, 1 + speed]`` (tempo and pitch change together, as in the classic speed
   perturbation of Ko et al., 2015) from a random start, ``crop_seconds`` long (the prepared length when
   ``None``). A crop that needs more than the clip has continues cyclically, as the corpus length rule
   tiles short clips. Linear interpolation, no anti-alias filter: at ``speed`` ≤ 0.1 only the band
   above 7.3 kHz folds, where speech holds little energy;
3. **gain** uniform in ±``gain_db`` dB, then clipping to [-1, 1] as a recorder would. Every staa SER
   model standardises its input per clip, so for them gain changes nothing but the clipping of loud
   clips; it is kept for models that see raw levels;
4. **additive white noise** (with probability ``noise_prob``) at an SNR uniform in ``snr_db`` (dB,
   relative to the clip's power after the steps above, silence included).

All random choices for a global batch are drawn at once by :func:`draw` from one generator, so a run is
fixed by its seed, and under torchrun every rank slices the same draw (:meth:`Draw.rows`): N ranks
augment exactly as one process does. :func:`apply` then works on the whole (B, N) batch with tensor ops.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import Tensor

from staa.errors import ConfigError


@dataclass(frozen=True)
class Augmentation:
    """The strengths of the four changes above; 0 (or ``None`` for the crop) switches one off."""

    speed: float = 0.1
    gain_db: float = 6.0
    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (10.0, 30.0)
    crop_seconds: float | None = None
    mix_prob: float = 0.0
    mix_db: tuple[float, float] = (6.0, 12.0)

    def __post_init__(self) -> None:
        if not 0 <= self.speed < 1:
            raise ConfigError(f"augmentation: speed must be in [0, 1), got {self.speed}")
        if self.gain_db < 0:
            raise ConfigError(f"augmentation: gain_db must be ≥ 0, got {self.gain_db}")
        if not (0 <= self.noise_prob <= 1 and 0 <= self.mix_prob <= 1):
            raise ConfigError("augmentation: noise_prob and mix_prob must be in [0, 1]")
        for name in ("snr_db", "mix_db"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(f"augmentation: {name} must be (low, high) with low ≤ high, got {(low, high)}")
        if self.crop_seconds is not None and self.crop_seconds <= 0:
            raise ConfigError(f"augmentation: crop_seconds must be positive, got {self.crop_seconds}")

    @classmethod
    def from_dict(cls, d: dict) -> Augmentation:
        """From a config mapping (e.g. ``train.json``'s record or YAML); lists become the tuples."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(
                f"augmentation: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})"
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass
class Draw:
    """Every random choice for a batch of B clips, one row per clip (see :func:`draw`)."""

    partner: Tensor  # (B,) index into the pool of the same-class clip to add, -1 for none
    mix_gain_db: Tensor  # (B,) how far below the clip the partner sits
    rate: Tensor  # (B,) speed factors
    start: Tensor  # (B,) first sample read, as a fraction of the room the crop leaves
    gain_db: Tensor  # (B,)
    snr_db: Tensor  # (B,) +inf where no noise is added
    noise: Tensor  # (B, crop) standard normal

    def rows(self, positions: list[int]) -> Draw:
        """The draw of some of the batch's clips, in the order given (one rank's share under torchrun)."""
        idx = torch.as_tensor(positions, dtype=torch.long)
        return Draw(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


def crop_length(aug: Augmentation, length: int, sample_rate: int) -> int:
    """Samples in an augmented clip: the crop when one is set (never more than the clip), else the clip."""
    if aug.crop_seconds is None:
        return length
    return min(length, int(round(aug.crop_seconds * sample_rate)))


def draw(aug: Augmentation, labels: np.ndarray, pool_labels: np.ndarray, crop: int, generator: torch.Generator) -> Draw:
    """Random choices for clips with ``labels``; partners come from the pool (the training split).

    A clip labelled −1 has no known class (training speech without labels) and is never mixed.
    """
    n = len(labels)

    def uniform(low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)

    chance = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    pick = torch.rand(n, generator=generator, dtype=torch.float64)
    partner = torch.full((n,), -1, dtype=torch.long)
    for i, label in enumerate(labels):
        same = np.flatnonzero(pool_labels == label)
        if label >= 0 and chance[i, 0] < aug.mix_prob and len(same) > 1:
            partner[i] = int(same[min(int(pick[i] * len(same)), len(same) - 1)])
    snr = uniform(*aug.snr_db)
    return Draw(
        partner=partner,
        mix_gain_db=uniform(*aug.mix_db),
        rate=uniform(1 - aug.speed, 1 + aug.speed),
        start=torch.rand(n, generator=generator, dtype=torch.float64),
        gain_db=uniform(-aug.gain_db, aug.gain_db),
        snr_db=torch.where(chance[:, 1] < aug.noise_prob, snr, torch.full_like(snr, float("inf"))),
        noise=torch.randn(n, crop, generator=generator),
    )


def apply(x: Tensor, d: Draw, partners: Tensor | None = None) -> Tensor:
    """Augment the (B, N) batch ``x`` with the draw ``d``; ``partners`` (B, N) are the same-class clips
    to mix in (rows where ``d.partner`` is -1 are ignored; ``None`` when no row mixes)."""
    if partners is not None:
        x = mix(x, partners, d.mix_gain_db, d.partner >= 0)
    x = resample_crop(x, d.rate, d.start, d.noise.shape[-1])
    x = (x * 10 ** (d.gain_db[:, None] / 20)).to(x.dtype).clamp(-1, 1)
    return add_noise(x, d.noise, d.snr_db).clamp(-1, 1)


def rms(x: Tensor) -> Tensor:
    """Root mean square of each row, (B,)."""
    return x.double().pow(2).mean(dim=-1).sqrt()


def mix(x: Tensor, partners: Tensor, below_db: Tensor, where: Tensor) -> Tensor:
    """Add each partner scaled to ``below_db`` dB under its clip's RMS, in the rows ``where`` is true."""
    scale = rms(x) / rms(partners).clamp_min(1e-12) * 10 ** (-below_db / 20)
    scale = torch.where(where, scale, torch.zeros_like(scale))
    return x + (scale[:, None] * partners.double()).to(x.dtype)


def resample_crop(x: Tensor, rate: Tensor, start: Tensor, crop: int) -> Tensor:
    """Read ``crop`` samples of each row at speed ``rate`` (linear interpolation), from a start placed at
    the fraction ``start`` of the room left; rows continue cyclically past their end."""
    length = x.shape[-1]
    span = crop * rate
    first = start * (length - span).clamp_min(0)
    pos = first[:, None] + torch.arange(crop, dtype=torch.float64)[None, :] * rate[:, None]
    left = pos.floor()
    frac = (pos - left).to(x.dtype)
    i0 = left.long() % length
    i1 = (i0 + 1) % length
    return x.gather(1, i0) * (1 - frac) + x.gather(1, i1) * frac


def add_noise(x: Tensor, noise: Tensor, snr_db: Tensor) -> Tensor:
    """Add white ``noise`` scaled to the SNR of each row (``inf``: none)."""
    power = x.double().pow(2).mean(dim=-1)
    sigma = torch.sqrt(power / 10 ** (snr_db / 10))
    sigma = torch.where(torch.isfinite(snr_db), sigma, torch.zeros_like(sigma))
    return x + (sigma[:, None] * noise.double()).to(x.dtype)
