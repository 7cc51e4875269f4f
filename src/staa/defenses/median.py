"""Median filtering: the natural enemy of sparse perturbations.

A perturbation on a few isolated samples is an outlier in every window that contains it, so a sliding
median removes it almost entirely while leaving smooth speech nearly unchanged. The filter is
computed with ``unfold`` + ``median``, so its exact gradient flows to the sample each window selects;
with ``bpda=True`` the backward pass is the identity instead (the gradient of the exact filter is very
sparse, which can starve an adaptive attacker).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from staa.defenses.base import Defense, check_waveform_batch, straight_through
from staa.errors import ConfigError
from staa.validation import number


class MedianFilter(Defense):
    name = "median"

    def __init__(self, kernel: int = 5, bpda: bool = False) -> None:
        number("median: kernel", kernel, integer=True, low=3, high=4095)
        if kernel % 2 == 0 or not isinstance(bpda, bool):
            raise ConfigError(f"median: kernel must be an odd integer and bpda true or false, got {kernel}, {bpda!r}")
        super().__init__(kernel=kernel, bpda=bpda)
        self.kernel = kernel
        self.bpda = bpda

    def forward(self, x: Tensor) -> Tensor:
        check_waveform_batch(x, self.name)
        half = self.kernel // 2
        padded = F.pad(x[:, None], (half, half), mode="replicate")[:, 0]  # keeps monotone edges intact
        filtered = padded.unfold(-1, self.kernel, 1).median(dim=-1).values
        return straight_through(x, filtered) if self.bpda else filtered
