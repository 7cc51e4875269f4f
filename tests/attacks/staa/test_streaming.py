"""Streaming the generator chunk by chunk gives the offline result, for any stream length and chunk size."""

from __future__ import annotations

import pytest
import torch

from staa.attacks.staa import Generator, GeneratorConfig
from staa.attacks.staa.streaming import StreamingGenerator
from staa.errors import ConfigError


def _generator(dtype: torch.dtype = torch.float64, **overrides) -> Generator:
    """A small batch-norm generator with non-trivial running statistics and a mask that is partly on."""
    torch.manual_seed(0)
    g = Generator(GeneratorConfig.authors(levels=3, features=4, norm="bn", **overrides)).to(dtype).eval()
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    with torch.no_grad():
        scores = g(_clip(1, 2000, dtype)).scores
    g.config.gamma = float(scores.median())  # about half the samples perturbed, so the mask matters
    return g


def _clip(batch: int, n: int, dtype: torch.dtype = torch.float64, seed: int = 1) -> torch.Tensor:
    return (torch.rand(batch, n, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2 - 1) * 0.8


@pytest.fixture(scope="module")
def generator() -> Generator:
    return _generator()


@pytest.mark.parametrize(
    ("n", "chunk"), [(1, 1), (3, 2), (50, 7), (160, 33), (237, 1), (500, 256), (1777, 33), (1777, 10_000)]
)
def test_stream_equals_offline(generator: Generator, n: int, chunk: int) -> None:
    g = generator
    x = _clip(2, n)
    offline = g(x)
    stream = StreamingGenerator(g, block=40)
    online = stream.run(x, chunk)
    assert online.shape == offline.x_adv.shape
    torch.testing.assert_close(online, offline.x_adv, atol=1e-12, rtol=0)


@pytest.mark.parametrize(("n", "chunk"), [(1, 1), (7, 3), (237, 1), (1777, 33), (1777, 10_000)])
@pytest.mark.parametrize("fold", [2, 4])
def test_folded_generator_streams_exactly(n: int, chunk: int, fold: int) -> None:
    """Space-to-depth: blocks are whole bottleneck frames of fold·stride^(levels−1) samples."""
    g = _generator(fold=fold)
    x = _clip(2, n)
    stream = StreamingGenerator(g, block=40)
    assert stream.block % (fold * 4**2) == 0
    online = stream.run(x, chunk)
    torch.testing.assert_close(online, g(x).x_adv, atol=1e-12, rtol=0)
    if n == 1777:  # not vacuous: the mask is partly on
        assert 0.1 < float(((online - x) != 0).double().mean()) < 0.9


def test_stream_mask_is_mixed_and_delta_nonzero(generator: Generator) -> None:
    """Guard against a vacuous equality: the perturbation compared above is sparse but not empty."""
    g = generator
    x = _clip(1, 1777)
    delta = StreamingGenerator(g, block=40).run(x, 100) - x
    share = (delta != 0).double().mean()
    assert 0.1 < share < 0.9


def test_push_emits_blocks_as_soon_as_their_context_arrived(generator: Generator) -> None:
    g = generator
    stream = StreamingGenerator(g, block=150)
    assert stream.block == 160  # rounded up to the total stride 4² = 16
    x = _clip(1, 2000)
    first = stream.push(x[:, : stream.latency_samples - 1])
    assert first.shape == (1, 0)
    second = stream.push(x[:, stream.latency_samples - 1 : stream.latency_samples])
    assert second.shape == (1, stream.block)
    rest = stream.push(x[:, stream.latency_samples :])
    tail = stream.flush()
    assert second.shape[1] + rest.shape[1] + tail.shape[1] == 2000
    torch.testing.assert_close(torch.cat([second, rest, tail], 1), g(x).x_adv, atol=1e-12, rtol=0)
    assert stream.samples == 2000  # statistics survive the flush, for the real-time factor of the stream
    stream.reset()
    assert stream.seconds == 0.0 and stream.samples == 0


def test_float32_stream_matches_offline_to_rounding() -> None:
    g = _generator(torch.float32)
    x = _clip(1, 3000, torch.float32)
    online = StreamingGenerator(g, block=64).run(x, 500)
    offline = g(x).x_adv
    agree = (online == offline) | ((online - offline).abs() < 1e-5)
    # a score within float rounding of γ may flip one sample's mask; nothing else may differ
    assert agree.float().mean() > 0.999


def test_authors_alignment_streams_too() -> None:
    g = _generator(alignment="authors")
    x = _clip(1, 900)
    torch.testing.assert_close(StreamingGenerator(g, block=40).run(x, 128), g(x).x_adv, atol=1e-12, rtol=0)


def test_real_time_factor_is_measured(generator: Generator) -> None:
    stream = StreamingGenerator(generator, block=160)
    stream.run(_clip(1, 1000), 100)
    assert stream.samples == 1000
    assert stream.real_time_factor == pytest.approx(stream.seconds / (1000 / 16_000))


def test_group_norm_generator_is_refused() -> None:
    with pytest.raises(ConfigError, match="GroupNorm"):
        StreamingGenerator(Generator(GeneratorConfig.authors(levels=2, features=2, norm="gn")))


def test_invalid_block_is_refused(generator: Generator) -> None:
    with pytest.raises(ConfigError, match="block"):
        StreamingGenerator(generator, block=0)
