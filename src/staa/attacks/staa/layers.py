"""Wave-U-Net building blocks with valid (unpadded) convolutions, as in the authors' generator.

Valid convolutions keep every output sample's receptive field inside real (or reflected) audio instead
of zero padding; the price is size bookkeeping, which :mod:`staa.attacks.staa.sizes` does exactly.
A stage is ``depth`` conv → norm → ReLU layers; resolution goes down by a learned stride-s convolution
and up either by a stride-s transposed convolution with padding k−1 (``upsample="transposed"``, the
authors' choice) or by linear interpolation followed by the block's convolutions (``"linear"``).

Why interpolation. A stride-s transposed convolution computes each output phase t mod s with its own
subset of kernel taps, so every up-sampling layer can — and in trained generators did — give the s
phases different offsets: the position scores then carry a lattice of period s^levels that a threshold
or a top-k turns into a periodic comb, the same on every clip (the "checkerboard" artefact of
Odena et al., 2016). Linear interpolation treats every phase alike; what differs between neighbouring
output samples can only come from the convolutions that follow, which act on the full-rate signal and
on the skip features of the clip itself.

Activation checkpointing (:class:`Checkpointed`, switched on by ``Generator.checkpoint_activations``)
trades compute for training memory: a checkpointed decoder, block or layer keeps only its inputs for
the backward pass and recomputes its internals there, nested (decoder → blocks → layers), so at any
moment one layer's internals and one decoder's block inputs are live instead of the whole network's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

T = TypeVar("T")


def _norm(kind: str, channels: int) -> nn.Module:
    """GroupNorm with ~8 channels per group (the authors' C/8 groups), BatchNorm (momentum 0.01) or none."""
    if kind == "gn":
        groups = max(1, channels // 8)
        while channels % groups:
            groups -= 1
        return nn.GroupNorm(groups, channels)
    if kind == "bn":
        return nn.BatchNorm1d(channels, momentum=0.01)
    return nn.Identity()


class Checkpointed(nn.Module):
    """A module whose forward pass can be recomputed in the backward pass instead of stored.

    Non-reentrant checkpointing (it nests, and it passes gradients to parameters whatever the inputs'
    ``requires_grad``); off by default and whenever no graph is being recorded, so inference and
    existing outputs are untouched — the recomputation gives the same values and gradients.
    """

    checkpointing: bool = False

    def recomputed(self, forward: Callable[..., T], *inputs: Tensor) -> T:
        if self.checkpointing and torch.is_grad_enabled():
            return checkpoint(forward, *inputs, use_reentrant=False)
        return forward(*inputs)


class ConvLayer(Checkpointed, nn.Sequential):
    """conv (or transposed conv) → norm → ReLU; the authors' ``ConvLayer``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, norm: str, stride: int = 1, transpose: bool = False) -> None:
        conv: nn.Module
        if transpose:
            conv = nn.ConvTranspose1d(c_in, c_out, kernel, stride, padding=kernel - 1)
        else:
            conv = nn.Conv1d(c_in, c_out, kernel, stride)
        super().__init__(conv, _norm(norm, c_out), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        return self.recomputed(super().forward, x)


def stage(c_in: int, c_out: int, kernel: int, depth: int, norm: str) -> nn.Sequential:
    """``depth`` valid convolutions, the first changing channels c_in → c_out."""
    return nn.Sequential(*(ConvLayer(c_in if i == 0 else c_out, c_out, kernel, norm) for i in range(depth)))


def centre_crop(x: Tensor, length: int) -> Tensor:
    """The centred ``length`` samples of ``x`` (skip tensors are longer than the up-sampled path)."""
    start = (x.shape[-1] - length) // 2
    return x[..., start : start + length]


class DownBlock(Checkpointed):
    """Skip stage (c_in → c), stage (c → c_next), learned decimation (stride-s conv)."""

    def __init__(self, c_in: int, c: int, c_next: int, kernel: int, stride: int, depth: int, norm: str) -> None:
        super().__init__()
        self.pre = stage(c_in, c, kernel, depth, norm)
        self.post = stage(c, c_next, kernel, depth, norm)
        self.down = ConvLayer(c_next, c_next, kernel, norm, stride=stride)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.recomputed(self._forward, x)

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        skip = self.pre(x)
        return self.down(self.post(skip)), skip


class LinearUpsample(nn.Module):
    """Linear interpolation between neighbouring frames: n frames → s(n−1)+1 samples, no extrapolation.

    Only the span between the first and the last input frame is produced, so (like the valid
    convolutions) no output depends on how the signal was padded, and the layer commutes with shifts
    by whole frames — which keeps streaming exact (:mod:`staa.attacks.staa.streaming`).
    """

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        w = torch.arange(self.stride, dtype=x.dtype, device=x.device) / self.stride  # (s,)
        left, right = x[..., :-1, None], x[..., 1:, None]  # (B, C, n−1, 1)
        inner = (left * (1 - w) + right * w).flatten(-2)  # (B, C, s(n−1))
        return torch.cat([inner, x[..., -1:]], dim=-1)


class UpBlock(Checkpointed):
    """Up-sampling, stage (c_up → c), concatenation with the cropped skip, stage (2c → c)."""

    def __init__(
        self, c_up: int, c: int, kernel: int, stride: int, depth: int, norm: str, upsample: str = "transposed"
    ) -> None:
        super().__init__()
        self.up: nn.Module
        if upsample == "linear":
            self.up = LinearUpsample(stride)
        else:
            self.up = ConvLayer(c_up, c_up, kernel, norm, stride=stride, transpose=True)
        self.pre = stage(c_up, c, kernel, depth, norm)
        self.post = stage(2 * c, c, kernel, depth, norm)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.recomputed(self._forward, x, skip)

    def _forward(self, x: Tensor, skip: Tensor) -> Tensor:
        h = self.pre(self.up(x))
        return self.post(torch.cat([centre_crop(skip, h.shape[-1]), h], dim=1))


class Decoder(Checkpointed):
    """One up-sampling path (UB): bottleneck stage, up blocks back to full resolution, 1×1 head.

    The head has one output channel per sample of a frame (``fold``); the result is (B, fold, T).
    Checkpointed, a decoder stores nothing of its own until the backward pass reaches it, so the
    two decoders' full-rate activations are never held at the same time.
    """

    def __init__(
        self,
        channels: list[int],
        kernel: int,
        stride: int,
        depth: int,
        norm: str,
        fold: int = 1,
        upsample: str = "transposed",
    ) -> None:
        super().__init__()
        self.bottleneck = stage(channels[-1], channels[-1], kernel, depth, norm)
        self.blocks = nn.ModuleList(
            UpBlock(channels[i + 1], channels[i], kernel, stride, depth, norm, upsample)
            for i in reversed(range(len(channels) - 1))
        )
        self.head = nn.Conv1d(channels[0], fold, 1)

    def forward(self, code: Tensor, skips: list[Tensor]) -> Tensor:
        return self.recomputed(self._forward, code, *skips)

    def _forward(self, code: Tensor, *skips: Tensor) -> Tensor:
        h = self.bottleneck(code)
        for block, skip in zip(self.blocks, reversed(skips)):
            h = block(h, skip)
        return self.head(h)


def space_to_depth(x: Tensor, fold: int) -> Tensor:
    """(B, T·fold) → (B, fold, T): channel r of frame t is sample t·fold + r; (B, C, T·fold) → (B, C·fold, T)."""
    if x.dim() == 2:
        return x.reshape(len(x), -1, fold).transpose(1, 2)
    b, c, n = x.shape
    return x.reshape(b, c, n // fold, fold).transpose(2, 3).reshape(b, c * fold, n // fold)


def hashed_bits(channels: int, length: int, seed: int | Tensor, device: torch.device | str = "cpu") -> Tensor:
    """32 pseudo-random bits (int64 in [0, 2³²)), a fixed function of (seed, channel, sample index):
    (channels, length) for an integer ``seed``, (B, channels, length) for a tensor of B seeds. The same
    values for a sample whatever the batch or call (an integer hash, so any length is consistent with any
    other, and every machine draws the same)."""
    mask = 0xFFFFFFFF
    t = torch.arange(length, device=device, dtype=torch.int64)[None, :]
    c = torch.arange(channels, device=device, dtype=torch.int64)[:, None]
    seeds = torch.as_tensor(seed, dtype=torch.int64, device=device)
    h = (t + c * 0x9E3779B1 + seeds.reshape(*seeds.shape, 1, 1) * 0x85EBCA6B) & mask
    for _ in range(2):
        h = (((h >> 16) ^ h) * 0x45D9F3B) & mask
    return (h >> 16) ^ h


def hashed_noise(channels: int, length: int, seed: int | Tensor, device: torch.device | str = "cpu") -> Tensor:
    """±1 values from :func:`hashed_bits` (its lowest bit)."""
    return (hashed_bits(channels, length, seed, device) & 1).to(torch.float32) * 2 - 1


def clip_seeds(x: Tensor, seed: int) -> Tensor:
    """One integer per clip of ``x`` (B, N), a hash of its samples at 16-bit resolution: exact integer
    arithmetic, so the same clip gives the same seed on any machine, and different clips differ."""
    q = torch.round(x.detach() * 32768).to(torch.int64)
    w = hashed_noise(1, x.shape[-1], seed, x.device)[0].to(torch.int64) * (
        1 + torch.arange(x.shape[-1], device=x.device) % 7919
    )
    return (q * w).sum(dim=-1) & 0x7FFFFFFF


def depth_to_space(x: Tensor) -> Tensor:
    """(B, fold, T) → (B, T·fold), the inverse of :func:`space_to_depth`."""
    return x.transpose(1, 2).reshape(len(x), -1)


def reflect_indices(n: int, left: int, right: int) -> Tensor:
    """Indices into a length-``n`` signal that reflection-pad it by ``left``/``right`` samples.

    Equals ``F.pad(mode="reflect")`` when the pads are shorter than the signal and keeps reflecting
    back and forth (period 2(n−1)) when they are not, so clips of any length, even a few samples,
    can be padded to the network's input size; a one-sample clip is repeated.
    """
    idx = torch.arange(-left, n + right)
    if n == 1:
        return torch.zeros_like(idx)
    period = 2 * (n - 1)
    idx = torch.remainder(idx, period)
    return torch.where(idx >= n, period - idx, idx)
