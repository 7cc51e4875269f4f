"""Additive Gaussian noise: randomised smoothing of the waveform, re-drawn on every forward pass.

It drowns low-amplitude perturbations and makes the model's decision a random variable, so an adaptive
attacker has to average gradients over draws (EOT), which :class:`~staa.defenses.defended.Defended`
does when asked for ``eot_samples > 1``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from staa.defenses.base import Defense, check_waveform_batch
from staa.validation import number


class GaussianNoise(Defense):
    name = "noise"
    randomised = True

    def __init__(self, sigma: float = 0.005) -> None:
        number("noise: sigma", sigma, low=0, high=1, low_open=True)
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def forward(self, x: Tensor) -> Tensor:
        check_waveform_batch(x, self.name)
        return x + self.sigma * torch.randn_like(x)
