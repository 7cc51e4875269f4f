"""Attack an audio stream chunk by chunk with a trained generator; the output equals the offline result.

Why it can be exact. The generator is a valid-convolution Wave-U-Net, so output sample j depends only
on a finite window of the reflection-padded input around j, and the network commutes with shifts by its
total stride T = fold·stride^(levels−1) (one bottleneck frame): a segment of the padded input that starts at
a multiple of T yields exactly the offline outputs of that segment, whatever its length (the skip
crops start at the same offset for every length, see :mod:`staa.attacks.staa.sizes`). The stream is
therefore cut into blocks of ``block`` output samples (a multiple of T); a block is computed as soon as
the samples its receptive field needs have arrived, from a segment that overlaps the previous one by
the receptive field. The stream's start is reflected as offline; its end is reflected at
:meth:`StreamingGenerator.flush`, when the length is known.

What it needs. The mask must be decided sample by sample (``mask="threshold"``): a top-k mask ranks
the whole clip. Normalisation must be local in time: batch norm (eval mode) and no norm are per-sample
affine maps, but GroupNorm normalises with statistics of the *whole clip*, which a stream does not
have yet — such a generator is refused rather than approximated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from staa.attacks.staa.generator import Generator
from staa.attacks.staa.layers import reflect_indices
from staa.attacks.staa.sizes import plan
from staa.audio import SAMPLE_RATE
from staa.errors import ConfigError


def perturbation(generator: Generator, padded: Tensor, count: int, eps: float) -> Tensor:
    """δ = v ⊗ m for the first ``count`` outputs of an already padded input segment (eval mode)."""
    magnitudes, scores = generator.heads(padded, count, eps)
    return magnitudes if scores is None else magnitudes * generator.quantise(scores)[0]


class StreamingGenerator:
    """``push`` samples as they arrive and get back the adversarial samples that are final; ``flush`` at the end.

    ``block`` is the number of output samples per network call, rounded up to a multiple of the total
    stride; latency (:attr:`latency_samples`) is a block plus the receptive field's look-ahead, and
    :attr:`real_time_factor` is compute seconds per second of audio emitted (below 1: faster than real time).
    """

    def __init__(self, generator: Generator, *, block: int = SAMPLE_RATE, eps: float | None = None) -> None:
        config = generator.config
        if config.architecture != "wave-u-net":
            raise ConfigError(f"streaming: only the Wave-U-Net streams; the '{config.architecture}' generator "
                              "standardises and ranks the whole clip")  # fmt: skip
        if config.norm == "gn":
            raise ConfigError(
                "streaming needs a generator with time-local normalisation (norm 'bn' or 'none'): "
                "GroupNorm uses statistics of the whole clip"
            )
        if config.noise_channels:
            raise ConfigError(
                "streaming: a generator with carrier channels draws them from the whole clip (noise_channels 0 streams)"
            )
        if config.factorised and config.mask == "topk":
            raise ConfigError(
                "streaming needs a mask decided sample by sample (mask 'threshold'): a top-k mask ranks the "
                "whole clip, which a stream does not have yet"
            )
        if block < 1:
            raise ConfigError(f"streaming: block must be at least 1 sample, got {block}")
        if config.eps_db is not None and eps is None:
            raise ConfigError("streaming: a relative budget (eps_db) needs the whole clip's peak, which a stream "
                              "does not have yet: give an absolute eps")  # fmt: skip
        self.generator = generator
        self.eps = config.eps if eps is None else eps
        self.stride = config.fold * config.stride ** (config.levels - 1)
        self.block = -(-block // self.stride) * self.stride
        extent = plan(config, self.block)
        self.segment = extent.input_size  # padded-input samples that one block needs
        self.left = extent.left  # the same front padding as offline (it does not depend on the length)
        self.reset()

    def reset(self) -> None:
        """Start a new stream and new timing statistics."""
        self._new_stream()
        self.seconds = 0.0  # compute time of the blocks emitted since the last reset
        self.samples = 0  # samples emitted since the last reset

    def _new_stream(self) -> None:
        self._buffer: Tensor | None = None  # received samples from absolute index self._origin on
        self._origin = 0
        self._received = 0
        self._emitted = 0

    @property
    def latency_samples(self) -> int:
        """Samples that must arrive after a block's first sample before that block is emitted."""
        return self.segment - self.left

    @property
    def real_time_factor(self) -> float:
        """Compute time over the duration of the audio emitted so far."""
        return self.seconds / max(1e-12, self.samples / SAMPLE_RATE)

    def push(self, samples: Tensor) -> Tensor:
        """Append (B, n) new samples (or (n,) for one stream); return the (B, m) adversarial samples now final."""
        samples = samples[None] if samples.dim() == 1 else samples
        self._buffer = samples if self._buffer is None else torch.cat([self._buffer, samples], dim=1)
        self._received += samples.shape[1]
        blocks = []
        # the block at padded offset a = emitted reads raw samples [a − left, a − left + segment)
        while self._emitted - self.left + self.segment <= self._received:
            blocks.append(self._block(self._raw(self._emitted - self.left, self.segment, end=None), self.block))
        return self._concat(blocks, samples)

    def flush(self) -> Tensor:
        """The remaining adversarial samples, the stream's end reflected as offline; then a new stream starts.

        The timing statistics are kept (read :attr:`real_time_factor` after a whole stream) until :meth:`reset`.
        """
        if self._buffer is None:
            return torch.zeros(0, 0)
        n, blocks = self._received, []
        if self._emitted == 0:  # a stream shorter than one block's context: the offline pass itself
            blocks.append(self._timed(lambda: self.generator(self._buffer, eps=self.eps).x_adv, n))
        while self._emitted < n:
            count = min(self.block, n - self._emitted)
            blocks.append(self._block(self._raw(self._emitted - self.left, self.segment, end=n), count))
        out = self._concat(blocks, self._buffer)
        self._new_stream()
        return out

    def run(self, x: Tensor, chunk: int) -> Tensor:
        """Feed ``x`` (B, N) in chunks of ``chunk`` samples and return the whole adversarial stream."""
        self.reset()
        parts = [self.push(x[:, i : i + chunk]) for i in range(0, x.shape[1], chunk)]
        return torch.cat([*parts, self.flush()], dim=1)

    # ---- internals -----------------------------------------------------------------------------------
    def _raw(self, start: int, length: int, end: int | None) -> Tensor:
        """Padded input for raw indices [start, start + length): reflected at 0, and at ``end`` once known."""
        n = end if end is not None else self._received
        idx = reflect_indices(n, -start, start + length - n)  # = arange(start, start + length), reflected
        segment = self._buffer[:, (idx - self._origin).to(self._buffer.device)]
        self._trim()
        return segment

    def _trim(self) -> None:
        """Drop samples no later block can read (keeping the start while it is still reflected)."""
        keep_from = max(0, self._emitted - self.left - self.segment)  # the end's reflection reaches back
        if keep_from > self._origin + self.segment:  # copy rarely, not at every block
            self._buffer = self._buffer[:, keep_from - self._origin :]
            self._origin = keep_from

    def _block(self, padded: Tensor, count: int) -> Tensor:
        """Adversarial samples [emitted, emitted + count) from the padded segment starting at offset emitted."""
        return self._timed(lambda: self._adversarial(padded, count), count)

    def _adversarial(self, padded: Tensor, count: int) -> Tensor:
        offset = self.left if self.generator.config.alignment == "exact" else 0  # "authors": the shifted clip
        delta = perturbation(self.generator, padded, count, self.eps)
        return torch.clamp(padded[:, offset : offset + count] + delta, -1.0, 1.0)

    def _timed(self, compute: Callable[[], Tensor], count: int) -> Tensor:
        """Run ``compute`` in inference mode, emitting ``count`` samples; add its time to the statistics."""
        start = time.perf_counter()
        with self._inference():
            x_adv = compute()
        if x_adv.is_cuda:
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - start
        self.samples += count
        self._emitted += count
        return x_adv

    @contextmanager
    def _inference(self) -> Iterator[None]:
        was_training = self.generator.training
        self.generator.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.generator.train(was_training)

    @staticmethod
    def _concat(blocks: list[Tensor], like: Tensor) -> Tensor:
        return torch.cat(blocks, dim=1) if blocks else like.new_zeros(len(like), 0)
