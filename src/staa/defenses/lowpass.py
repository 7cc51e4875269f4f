"""Low-pass filtering with a linear-phase FIR (windowed sinc), entirely in torch and differentiable.

Emotion cues live mostly below 4 kHz, while a sparse perturbation (a few impulses) spreads its energy
over the whole band, so a low-pass filter removes much of the perturbation and little of the emotion.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from staa.audio import SAMPLE_RATE
from staa.defenses.base import Defense, check_waveform_batch
from staa.errors import ConfigError
from staa.validation import number


def lowpass_kernel(cutoff_hz: float, sample_rate: int, taps: int) -> Tensor:
    """Hamming-windowed sinc with unit DC gain, shape (taps,)."""
    number("lowpass: sample_rate", sample_rate, integer=True, low=1, high=768_000)
    number("lowpass: taps", taps, integer=True, low=3, high=4095)
    number("lowpass: cutoff_hz", cutoff_hz)
    if taps % 2 == 0:
        raise ConfigError(f"lowpass: taps must be an odd integer >= 3, got {taps}")
    if not 0 < cutoff_hz < sample_rate / 2:
        raise ConfigError(f"lowpass: cutoff must be in (0, {sample_rate / 2:g}) Hz, got {cutoff_hz}")
    n = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    fc = cutoff_hz / sample_rate
    h = 2 * fc * torch.sinc(2 * fc * n) * torch.hamming_window(taps, periodic=False, dtype=torch.float64)
    return (h / h.sum()).float()


def fir(x: Tensor, kernel: Tensor) -> Tensor:
    """'Same'-length convolution of each row of (B, N) ``x`` with a symmetric FIR ``kernel``."""
    half = len(kernel) // 2
    return F.conv1d(x[:, None], kernel.to(x)[None, None], padding=half)[:, 0]


class LowPass(Defense):
    name = "lowpass"

    def __init__(self, cutoff_hz: float = 4000.0, taps: int = 101, sample_rate: int = SAMPLE_RATE) -> None:
        super().__init__(cutoff_hz=cutoff_hz, taps=taps, sample_rate=sample_rate)
        self.register_buffer("kernel", lowpass_kernel(cutoff_hz, sample_rate, taps), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        check_waveform_batch(x, self.name)
        return fir(x, self.kernel)


class DownUpSample(Defense):
    """Resample to ``rate`` Hz and back: an anti-aliasing low-pass, then linear interpolation down and up.

    Everything above ``rate / 2`` is lost and the remaining band is smoothed by the two
    interpolations, which is what a telephone channel does to an adversarial clip.
    """

    name = "resample"

    def __init__(self, rate: int = 8000, taps: int = 101, sample_rate: int = SAMPLE_RATE) -> None:
        number("resample: sample_rate", sample_rate, integer=True, low=1, high=768_000)
        number("resample: rate", rate, integer=True)
        if not 0 < rate < sample_rate:
            raise ConfigError(f"resample: rate must be in (0, {sample_rate}) Hz, got {rate}")
        super().__init__(rate=rate, taps=taps, sample_rate=sample_rate)
        self.ratio = rate / sample_rate
        self.register_buffer("kernel", lowpass_kernel(0.5 * rate, sample_rate, taps), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        check_waveform_batch(x, self.name)
        n = x.shape[-1]
        low = max(2, math.ceil(n * self.ratio))
        down = F.interpolate(fir(x, self.kernel)[:, None], size=low, mode="linear", align_corners=True)
        return F.interpolate(down, size=n, mode="linear", align_corners=True)[:, 0]
