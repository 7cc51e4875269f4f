"""The shallow adjoint generator: the adjoint generator cut to the threat's first front-end block, for speed.

Why: the adjoint generator (:mod:`staa.attacks.staa.adjoint`) runs the threat's whole convolutional front
end forward and backward for every clip. On Emo18 that is most of one sparse-PGD step, so it crafts only
some thirty times faster than PGD-20, where the paper promises a hundred. Nearly all of that cost is the
second and third blocks (their convolutions have 64–128 input channels); the first block is one input
channel, cheap in both directions when written as a matrix product over the clip's frames. So this
generator keeps the adjoint's principle exactly where it matters most, at the sample level, and learns the
rest:

1. h = B₁(x): the threat's first block (standardisation, convolution, batch norm, activation, max-pool),
   frozen and taken from the threat as the adjoint generator takes the whole front end;
2. u = C(h): a two-rate context network predicts one coefficient per first-block channel and frame: a
   local branch at the block's frame rate (which filter, which pooling winner) scaled and shifted by a
   coarse branch at the front end's output frame rate, which sees the clip as a whole (the class);
3. z = J_B₁(x)ᵀ u: the coefficients carried to the samples through the block's transpose (the activation's
   slope, each pooling window's winner, the transposed convolution, the standardisation), written out by
   :class:`FirstBlock` rather than taken by autograd, so that training needs no second-order graph;
4. v and the top-k mask as the adjoint generator makes them.

What it gives up: the second and third blocks' structure (their filters and pooling winners) is no longer
given; the local branch must learn what of it matters, so it sees each frame's neighbours (:class:`TimeTaps`),
and it learns it best when first distilled from a trained adjoint generator (:mod:`staa.attacks.staa.distil`).
Its cost is about a quarter of the adjoint's (``benchmarks/generator_speed.py``);
docs/results/shallow-generator.md has both speed and success.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from staa.attacks.staa.adjoint import AdjointGenerator, Context
from staa.attacks.staa.config import GeneratorConfig
from staa.errors import ConfigError

EPS_STD = 1e-8  # as staa.models.base.standardize


#: Pooling windows per chunk, over the whole batch: a chunk's 64-channel convolution output (~1.3 MB at
#: Emo18's pool of 10) stays in the CPU's cache between the product, the pooling and the transpose, instead
#: of a 24 MB tensor per 6 s clip making several round trips to memory.
CHUNK = 512


class BlockState(NamedTuple):
    """What the transpose of one clip batch needs from the forward pass."""

    unit: Tensor  # the standardised clips (B, N), or the clips themselves for a threat that does not standardise
    std: Tensor  # their standard deviations (B, 1); ones without standardisation
    frames: Tensor  # (B, L, K): the convolution's input frames (K taps each)
    peaks: Tensor  # (B, T, C): each window's maximum of the convolution before its bias (finds the winners)
    slope: Tensor  # (B, T, C): the activation's slope there


class FirstBlock:
    """The first conv → batch norm → activation → max-pool block of a front end, with its transpose.

    It reads the modules of the front end that the generator owns (and saves), so it holds no weights of its own.

    The convolution is a matrix product of the clip's frames (one input channel: PyTorch's direct
    convolution is several times slower for this shape on CPUs) with batch norm folded into it, in
    (B, time, channels) layout, computed :data:`CHUNK` windows at a time. Its bias is added after the
    pooling (constant over a channel's window, it moves no winner), so no product starts from a copy of it.
    The transpose recomputes a chunk's product (cheap: eight taps per output) to find each window's winner
    rather than storing a mask as large as the product. A window whose maximum is shared by several samples
    (a digitally silent stretch) passes the coefficient to each of them: the transpose of that rule, written
    once for training and inference alike.
    """

    def __init__(self, front: nn.Sequential, standardized: bool = True) -> None:
        self.standardized = standardized
        conv, norm, act, pool = list(front)[:4]
        shapes_ok = isinstance(conv, nn.Conv1d) and isinstance(norm, nn.BatchNorm1d) and isinstance(pool, nn.MaxPool1d)
        if not shapes_ok or conv.in_channels != 1 or not isinstance(act, nn.LeakyReLU | nn.ELU):
            raise ConfigError(
                "the shallow adjoint generator needs a front end that starts with a one-channel conv → batch "
                "norm → leaky ReLU or ELU → max-pool block (Emo18, Zhao19)"
            )
        if conv.stride != (1,) or conv.dilation != (1,) or pool.stride != pool.kernel_size or pool.padding != 0:
            raise ConfigError("the shallow adjoint generator needs a stride-1 convolution and a non-overlapping pool")
        self.conv, self.norm, self.act = conv, norm, act
        self.pool = int(pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0])
        self.padding = int(conv.padding[0])

    @property
    def channels(self) -> int:
        return self.conv.out_channels

    def folded(self) -> tuple[Tensor, Tensor]:
        """(weights (K, C), bias (C,)) of conv → batch norm in eval mode as one affine map."""
        scale = self.norm.weight / torch.sqrt(self.norm.running_var + self.norm.eps)
        bias = self.conv.bias if self.conv.bias is not None else torch.zeros_like(scale)
        weight = self.conv.weight[:, 0] * scale[:, None]  # (C, K)
        return weight.T, bias * scale + self.norm.bias - self.norm.running_mean * scale

    def __call__(self, x: Tensor) -> tuple[Tensor, BlockState]:
        """h (B, T, C) of clips x (B, N) and the state the transpose needs (no gradient: the block is frozen)."""
        with torch.no_grad():
            if self.standardized:
                mean = x.mean(-1, keepdim=True)
                std = torch.sqrt((x - mean).pow(2).mean(-1, keepdim=True) + EPS_STD)
                unit = (x - mean) / std
            else:
                unit, std = x, torch.ones_like(x[:, :1])
            weight, bias = self.folded()
            frames = F.pad(unit, (self.padding, self.padding)).unfold(-1, weight.shape[0], 1).contiguous()
            t = frames.shape[1] // self.pool
            peaks = x.new_empty(len(x), t, weight.shape[1])  # each window's maximum before the bias
            for s, e in self._chunks(t, len(x)):
                torch.amax(self._windows(frames, s, e, weight), 2, out=peaks[:, s:e])
            pooled = peaks + bias  # a channel's bias is the same over its window: it moves no winner
            h = self.act(pooled)
            slope = self._slope(pooled)
        return h, BlockState(unit, std, frames, peaks, slope)

    @staticmethod
    def _chunks(t: int, batch: int) -> list[tuple[int, int]]:
        step = max(1, CHUNK // batch)
        return [(s, min(t, s + step)) for s in range(0, t, step)]

    def _windows(self, frames: Tensor, start: int, end: int, weight: Tensor) -> Tensor:
        """The folded convolution's output over windows [start, end), less its bias: (B, end − start, pool, C)."""
        rows = frames[:, start * self.pool : end * self.pool]
        b, n, k = rows.shape
        return torch.mm(rows.reshape(b * n, k), weight).view(b, end - start, self.pool, -1)

    def _slope(self, pooled: Tensor) -> Tensor:
        if isinstance(self.act, nn.LeakyReLU):
            return torch.where(pooled >= 0, 1.0, self.act.negative_slope).to(pooled.dtype)
        return torch.where(pooled > 0, torch.ones_like(pooled), self.act.alpha * torch.exp(pooled))

    def transpose(self, u: Tensor, state: BlockState) -> Tensor:
        """J_B₁(x)ᵀ u for coefficients u (B, T, C): a map (B, N) over the clip's samples, differentiable in u."""
        unit, std, frames, peaks, slope = state
        g = u * slope  # (B, T, C), channels innermost like the products
        weight = self.folded()[0].detach()
        k, t = weight.shape[0], peaks.shape[1]
        padded = u.new_zeros(len(u), frames.shape[1] + k - 1)  # frames past the last whole window won nothing
        for s, e in self._chunks(t, len(u)):
            windows = self._windows(frames, s, e, weight)
            winners = torch.eq(windows, peaks[:, s:e, None], out=windows)  # 1.0 / 0.0, in the product's memory
            spread = winners.mul_(g[:, s:e, None]).flatten(1, 2)  # (B, samples, C), still in the product's memory
            taps = weight @ spread.transpose(1, 2)  # (B, K, samples): a wide product, fast on CPUs
            for i in range(k):  # tap i of frame j: sample j + i
                padded[:, s * self.pool + i : e * self.pool + i] += taps[:, i]
        z = padded[:, self.padding : self.padding + unit.shape[-1]]
        if not self.standardized:
            return z
        # the standardisation's transpose: (z − mean z − x̂·mean(x̂ z)) / σ
        z = z - z.mean(-1, keepdim=True) - unit * (unit * z).mean(-1, keepdim=True)
        return z / std


class TimeTaps(nn.Module):
    """A depthwise convolution over time in (B, T, C) layout with a residual path, as shifted multiply-adds.

    Why: the threat's second block pools eight of the first block's frames and convolves six, so whether a
    frame's coefficient reaches the samples depends on its neighbours; a per-frame map cannot see them.
    Shifted multiply-adds on the channels-last features cost a fraction of a millisecond per 6 s clip, where
    PyTorch's depthwise convolution would need the features transposed and is several times slower on CPUs.
    The taps start at zero, so a fresh layer passes its input through unchanged.
    """

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(kernel, channels))

    def forward(self, a: Tensor) -> Tensor:
        t, half = a.shape[1], len(self.weight) // 2
        out = torch.addcmul(a, a, self.weight[half])  # the residual and the centre tap
        for i, tap in enumerate(self.weight):
            shift = i - half  # out[j] += tap · a[j + shift]; frames beyond the clip are zero
            if shift != 0 and abs(shift) < t:
                lo, hi = max(0, -shift), t - max(0, shift)
                out[:, lo:hi].addcmul_(a[:, lo + shift : hi + shift], tap)
        return out


class TwoRateContext(nn.Module):
    """Coefficients u (B, T, C) = coarse scale ⊙ local(h) + coarse shift, all in (B, time, channels) layout.

    The local branch (a per-frame linear map, taps over the neighbouring frames, a second per-frame map)
    works at the first block's frame rate, where the transpose needs detail. The coarse branch reads the clip
    at the front end's output frame rate, where its class can be read: two learned strided maps over
    non-overlapping runs of frames stand in for the threat's other blocks (at a fraction of their cost: each
    output frame is computed once, not once per input frame), then :class:`~staa.attacks.staa.adjoint.Context`
    with the clip's mean. Both branches also read each window's loudness (log mean square of the
    standardised clip): the threat's deeper blocks make its coefficients small in pauses and silence, which
    the first block's features alone do not show (its outputs there are the batch norm's constant shift).
    Every map is a matrix product on the channels-last features the block makes, so no layout is copied;
    the local branch's last map has no bias, which the coarse shift already provides.
    """

    def __init__(self, channels: int, coarse: int, hidden: int, layers: int, kernel: int, taps: int = 7) -> None:
        super().__init__()
        inputs = channels + 1  # the features and the loudness
        first = max(1, round(math.sqrt(coarse)))
        self.strides = (first, max(1, coarse // first))
        self.coarse = self.strides[0] * self.strides[1]
        self.local = nn.Sequential(
            nn.Linear(inputs, channels),
            nn.LeakyReLU(0.1, inplace=True),  # in place here and below: fresh large tensors cost page faults
            TimeTaps(channels, taps),
            nn.Linear(channels, channels, bias=False),
        )
        self.encoder = nn.ModuleList(
            [nn.Linear(self.strides[0] * inputs, 2 * channels), nn.Linear(self.strides[1] * 2 * channels, hidden)]
        )
        self.context = Context(hidden, hidden, layers, kernel, out=2 * channels)

    def forward(self, h: Tensor, loudness: Tensor) -> Tensor:
        """Coefficients (B, T, C) for features h (B, T, C) and the windows' loudness (B, T, 1)."""
        b, t, c = h.shape
        frames = -(-t // self.coarse) + 1  # whole coarse frames, at least one beyond the clip
        inputs = h.new_zeros(b, frames * self.coarse, c + 1)  # written once: no concatenation, no padding
        inputs[:, :t, :c] = F.layer_norm(h, h.shape[1:], eps=1e-5)  # one group over the clip, as GroupNorm(1)
        inputs[:, :t, c:] = loudness
        h = runs = inputs
        for stride, layer in zip(self.strides, self.encoder):
            runs = F.leaky_relu(layer(runs.reshape(b, -1, stride * runs.shape[-1])), 0.1, inplace=True)
        coefficients = self.context(runs.transpose(1, 2)).transpose(1, 2)  # (B, frames, 2C)
        scale, shift = coefficients[:, :, None].chunk(2, dim=-1)  # each over its coarse frame's fine frames
        local = self.local(h).view(b, frames, self.coarse, -1)
        return local.mul_(scale).add_(shift).view(b, frames * self.coarse, -1)[:, :t]  # in place: a large tensor


class ShallowAdjointGenerator(AdjointGenerator):
    """``Generator.for_config(GeneratorConfig.shallow(), [threat])``: see the module docstring."""

    architecture = "shallow-adjoint"

    def _context(self, config: GeneratorConfig) -> nn.Module:
        if not isinstance(self.front, nn.Sequential):
            raise ConfigError(
                "the shallow adjoint generator needs an Emo18- or Zhao19-style front end; "
                "use the 'adjoint' preset for foundation models"
            )
        self.block = FirstBlock(self.front, self.standardized)
        rest = [m.kernel_size for m in list(self.front)[4:] if isinstance(m, nn.MaxPool1d)]
        coarse = math.prod(k if isinstance(k, int) else k[0] for k in rest)
        return TwoRateContext(
            self.block.channels, coarse, config.context_channels, config.context_layers, config.context_kernel
        )

    def adjoint(self, x: Tensor, context: nn.Module | None = None) -> Tensor:
        """J_B₁(x)ᵀ C(B₁(x)): the context's coefficients carried back through the first block."""
        h, state = self.block(x)
        t, p = h.shape[1], self.block.pool
        power = state.unit[:, : t * p].reshape(len(x), t, p).pow(2).mean(-1)
        loudness = torch.log10(power + 1e-8)[..., None]  # (B, T, 1); silence −8, speech around 0
        return self.block.transpose((self.context if context is None else context)(h, loudness), state)
