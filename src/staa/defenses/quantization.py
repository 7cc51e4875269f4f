"""Amplitude quantisation to a ``bits``-bit PCM grid: perturbations below half a step vanish.

Rounding is a step function (zero gradient almost everywhere), so the backward pass is always the
identity (BPDA); that is what an adaptive attacker uses.
"""

from __future__ import annotations

import torch
from torch import Tensor

from staa.defenses.base import Defense, check_waveform_batch, straight_through
from staa.validation import number


class Quantization(Defense):
    name = "quantize"

    def __init__(self, bits: int = 8) -> None:
        number("quantize: bits", bits, integer=True, low=1, high=24)
        super().__init__(bits=bits)
        self.levels = 2 ** (bits - 1)

    def forward(self, x: Tensor) -> Tensor:
        check_waveform_batch(x, self.name)
        q = torch.round(x * self.levels) / self.levels
        return straight_through(x, q.clamp(-1.0, 1.0))
