"""A faster inference copy of a trained generator, equal to it up to float rounding.

Two rewrites, both exact in real arithmetic:

* **Batch norm folded into its convolution.** In eval mode BN is a per-channel affine map, so
  conv → BN equals one convolution with rescaled weights and a shifted bias: one pass over the tensor
  instead of two. (GroupNorm depends on the input's statistics and cannot be folded.)
* **Transposed convolutions as sub-pixel convolutions.** A stride-s transposed convolution computes
  each output phase r = (t + padding) mod s from its own subset of kernel taps; stacking the s phases
  as channels of one ordinary convolution over the *low-rate* input and interleaving them
  ("pixel shuffle") gives the same output. On CPUs the ordinary convolution runs on the fast oneDNN
  path at 1/s of the work per call, where the transposed one up-samples first — and the up-sampling
  convolutions that produce full-rate signals are the generator's most expensive layers.

:func:`fuse` returns a deep copy (the trained generator and its checkpoint are untouched), in eval
mode; it is what :class:`staa.attacks.staa.STAANet` and the benchmarks run at inference.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from staa.attacks.staa.generator import Generator


class SubPixelConv1d(nn.Module):
    """``ConvTranspose1d(c_in, c_out, k, stride=s, padding=p)`` as one convolution and an interleave."""

    def __init__(self, transposed: nn.ConvTranspose1d) -> None:
        super().__init__()
        weight = transposed.weight.detach()  # (c_in, c_out, k)
        c_in, c_out, k = weight.shape
        (s,), (p,) = transposed.stride, transposed.padding
        taps = math.ceil(k / s)
        # phase r of the un-cropped output at u = s·q + r sums x[q − m]·w[s·m + r] over m < taps
        phased = weight.new_zeros(c_out, s, c_in, taps)
        for r in range(s):
            for m in range(taps):
                if s * m + r < k:
                    phased[:, r, :, taps - 1 - m] = weight[:, :, s * m + r].T  # flipped: conv1d correlates
        self.weight = nn.Parameter(phased.reshape(c_out * s, c_in, taps), requires_grad=False)
        bias = transposed.bias.detach() if transposed.bias is not None else weight.new_zeros(c_out)
        self.bias = nn.Parameter(bias.repeat_interleave(s), requires_grad=False)
        self.stride, self.padding, self.kernel_size, self.taps, self.c_out = s, p, k, taps, c_out

    def forward(self, x: Tensor) -> Tensor:
        n, s = x.shape[-1], self.stride
        phases = F.conv1d(F.pad(x, (self.taps - 1, self.taps - 1)), self.weight, self.bias)  # (B, c_out·s, Q)
        full = phases.view(len(x), self.c_out, s, -1).transpose(2, 3).reshape(len(x), self.c_out, -1)
        length = s * (n - 1) + self.kernel_size - 2 * self.padding
        return full[..., self.padding : self.padding + length]


def fold_batch_norm(conv: nn.Module, bn: nn.BatchNorm1d) -> None:
    """Make ``conv`` (a copy we own) equal conv → BN(eval): weights scaled per output channel, bias shifted.

    A sub-pixel convolution has ``stride`` phase channels per output channel, each under that channel's BN.
    """
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias.detach() - bn.running_mean * scale
    phases = conv.stride if isinstance(conv, SubPixelConv1d) else 1
    scale, shift = scale.repeat_interleave(phases), shift.repeat_interleave(phases)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(scale)
    conv.weight = nn.Parameter(conv.weight.detach() * scale[:, None, None], requires_grad=False)
    conv.bias = nn.Parameter(bias * scale + shift, requires_grad=False)


def _fuse_layer(layer: nn.Sequential) -> None:
    """In place on a conv → norm → ReLU layer: sub-pixel up-sampling, then BN folded into the conv."""
    if isinstance(layer[0], nn.ConvTranspose1d):
        layer[0] = SubPixelConv1d(layer[0])
    if isinstance(layer[1], nn.BatchNorm1d):
        fold_batch_norm(layer[0], layer[1])
        layer[1] = nn.Identity()


def fuse(generator: Generator) -> Generator:
    """An eval-mode inference copy of ``generator`` with the rewrites above; outputs equal to rounding."""
    fused = copy.deepcopy(generator).eval().requires_grad_(False)
    for module in list(fused.modules()):
        if isinstance(module, nn.Sequential) and len(module) == 3 and isinstance(module[2], nn.ReLU):
            _fuse_layer(module)
    return fused
