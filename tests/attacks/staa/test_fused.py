"""The fused inference copy computes the generator's function: same outputs to float rounding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from staa.attacks.staa import Generator, GeneratorConfig
from staa.attacks.staa.fused import SubPixelConv1d, fuse


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(5, 4, 4), (5, 4, 0), (3, 4, 2), (8, 2, 7), (4, 4, 3)])
def test_sub_pixel_convolution_equals_transposed(kernel: int, stride: int, padding: int) -> None:
    torch.manual_seed(0)
    transposed = nn.ConvTranspose1d(3, 5, kernel, stride, padding=padding).double()
    x = torch.randn(2, 3, 17, dtype=torch.float64)
    expected = transposed(x)
    got = SubPixelConv1d(transposed)(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


def _trained_looking(config: GeneratorConfig) -> Generator:
    """Random weights plus non-trivial batch-norm statistics and affine parameters (eval mode)."""
    torch.manual_seed(0)
    g = Generator(config).double().eval()
    for m in g.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    return g


@pytest.mark.parametrize(
    "config",
    [
        GeneratorConfig.authors(levels=3, features=4, norm="bn"),
        GeneratorConfig.authors(levels=3, features=4, norm="gn", kernel_size=7, stride=3),
        GeneratorConfig.authors(levels=4, features=2, norm="none", growth="add", depth=2),
        GeneratorConfig.authors(levels=3, features=4, norm="bn", factorised=False),
        GeneratorConfig.authors(levels=3, features=4, norm="bn", fold=4),
        GeneratorConfig.authors(levels=3, features=4, norm="bn", fold=2),
    ],
)
def test_fused_generator_equals_generator(config: GeneratorConfig) -> None:
    g = _trained_looking(config)
    x = torch.rand(2, 1501, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        expected, got = g(x), fuse(g)(x)
    torch.testing.assert_close(got.magnitudes, expected.magnitudes, atol=1e-12, rtol=0)
    if config.factorised:
        torch.testing.assert_close(got.scores, expected.scores, atol=1e-12, rtol=0)
    assert torch.equal(got.mask, expected.mask)
    torch.testing.assert_close(got.x_adv, expected.x_adv, atol=1e-12, rtol=0)


def test_fusion_removes_batch_norm_and_transposed_convolutions_from_a_copy() -> None:
    g = _trained_looking(GeneratorConfig.authors(levels=3, features=4, norm="bn"))
    fused = fuse(g)
    kinds = {type(m) for m in fused.modules()}
    assert nn.BatchNorm1d not in kinds and nn.ConvTranspose1d not in kinds and SubPixelConv1d in kinds
    assert any(isinstance(m, nn.BatchNorm1d) for m in g.modules())  # the trained generator is untouched
    assert not any(p.requires_grad for p in fused.parameters()) and not fused.training
