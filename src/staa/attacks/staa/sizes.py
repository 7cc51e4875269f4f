"""Size arithmetic of the valid-convolution Wave-U-Net: how much input a clip of N samples needs.

Every valid conv trims k−1 samples, a stride-s conv maps n → ⌊(n−k)/s⌋+1, the transposed conv
(padding k−1) maps n → s(n−1)−k+2 and linear up-sampling n → s(n−1)+1. The network is therefore sized by its bottleneck: :func:`plan`
finds the smallest bottleneck whose output covers N samples and the input length that produces it.
The clip is reflection-padded by ``left`` in front (half the context, so output sample j is centred on
input sample j) and by the rest behind, and both heads are cut to their first N samples — which puts
head sample j on clip sample j for any N (the authors' net accepted exactly one length).

With space-to-depth (``fold`` = f > 1) the network runs on frames of f samples: the arithmetic above
is done in frames for the ⌈N/f⌉ frames that cover the clip, and :func:`plan` returns it in samples.
"""

from __future__ import annotations

from dataclasses import dataclass

from staa.attacks.staa.config import GeneratorConfig


@dataclass(frozen=True)
class Plan:
    """Padded input length, valid output length (≥ N) and the front padding for an N-sample clip."""

    length: int
    input_size: int
    output_size: int
    left: int

    @property
    def right(self) -> int:
        return self.input_size - self.length - self.left


def output_size(config: GeneratorConfig, code: int) -> int:
    """Length of a decoder's output for an encoder output ("code") of ``code`` frames (≤ 0: too short)."""
    k, s, trim = config.kernel_size, config.stride, config.depth * (config.kernel_size - 1)
    up_trim = k - 2 if config.upsample == "transposed" else -1  # s(n−1) − up_trim samples
    n = code - trim  # bottleneck stage
    for _ in range(config.levels - 1):
        if n < 1:
            return 0
        n = s * (n - 1) - up_trim - 2 * trim  # up-sampling, then the two stages
    return n


def input_size(config: GeneratorConfig, code: int) -> int:
    """Shortest input whose encoder output has exactly ``code`` frames."""
    k, s, trim = config.kernel_size, config.stride, config.depth * (config.kernel_size - 1)
    n = code
    for _ in range(config.levels - 1):
        n = (n - 1) * s + k + 2 * trim  # strided conv, then the two stages in reverse
    return n


def plan(config: GeneratorConfig, length: int) -> Plan:
    """The smallest network extent that covers ``length`` samples (in samples, whole frames when folded)."""
    if length < 1:
        raise ValueError(f"cannot plan a generator pass for {length} samples")
    f = config.fold
    frames = -(-length // f)
    code = config.depth * (config.kernel_size - 1) + 1
    while output_size(config, code) < frames:
        code += 1
    n_in, n_out = input_size(config, code), output_size(config, code)
    return Plan(length, f * n_in, f * n_out, f * ((n_in - n_out) // 2))
