"""Each defense does what it claims to the signal and to the gradient."""

from __future__ import annotations

import math

import pytest
import torch

from staa.defenses import DownUpSample, GaussianNoise, LowPass, MedianFilter, Quantization
from staa.errors import ConfigError

SR = 16_000


def tone(hz: float, n: int = 4000, amp: float = 0.5) -> torch.Tensor:
    return amp * torch.sin(2 * math.pi * hz * torch.arange(n) / SR)[None]


def gain_db(defense: torch.nn.Module, hz: float) -> float:
    """Output/input RMS of a pure tone, measured away from the edges."""
    x = tone(hz)
    y = defense(x)
    core = slice(500, -500)
    return 20 * math.log10(float(y[:, core].pow(2).mean().sqrt() / x[:, core].pow(2).mean().sqrt()))


def sparse_spikes(n: int, count: int, amp: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    delta = torch.zeros(1, n)
    idx = torch.randperm(n, generator=g)[:count]
    delta[0, idx] = amp * torch.where(torch.rand(count, generator=g) < 0.5, -1.0, 1.0)
    return delta


def test_median_removes_isolated_impulses_and_keeps_speech_band_signal():
    x = tone(200)
    delta = sparse_spikes(x.shape[1], 40, 0.3)  # 1 % of samples, far apart on average
    median = MedianFilter(kernel=5)
    residual = median(x + delta) - median(x)
    assert residual.pow(2).sum() < 0.05 * delta.pow(2).sum()  # > 95 % of the perturbation energy is gone
    assert (median(x) - x).abs().max() < 0.01  # a 200 Hz tone barely changes
    assert median(x).shape == x.shape


def test_median_gradient_exact_selects_one_input_per_window_bpda_is_identity():
    x = torch.randn(2, 64, requires_grad=True)
    MedianFilter(kernel=5)(x).sum().backward()
    grad = x.grad
    assert torch.all(grad >= 0) and torch.equal(grad, grad.round())
    assert grad.sum() == 2 * 64  # every output sample routes its gradient to exactly one input
    x.grad = None
    MedianFilter(kernel=5, bpda=True)(x).sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_quantization_snaps_to_grid_within_half_a_step_with_identity_gradient():
    q = Quantization(bits=8)
    x = (torch.rand(3, 1000) * 2 - 1).requires_grad_(True)
    y = q(x)
    step = 1 / 128
    assert torch.allclose(y * 128, (y * 128).round(), atol=1e-4)
    assert (y - x).abs().max() <= step / 2 + 1e-6
    grid = y.detach()
    assert torch.equal(q(grid + 0.4 * step * torch.sign(torch.randn_like(grid))), q(grid).detach())
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_lowpass_passes_low_tone_and_attenuates_high_tone():
    lp = LowPass(cutoff_hz=4000, taps=101)
    assert abs(gain_db(lp, 500)) < 0.5
    assert gain_db(lp, 7000) < -30
    assert torch.isclose(lp.kernel.sum(), torch.tensor(1.0))


def test_resample_keeps_band_below_half_rate_and_removes_the_rest():
    rs = DownUpSample(rate=8000)
    assert abs(gain_db(rs, 500)) < 1.0
    assert gain_db(rs, 6000) < -20
    x = torch.randn(2, 1001, requires_grad=True)
    y = rs(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad.abs().sum() > 0


def test_noise_has_requested_scale_and_is_redrawn_each_call():
    noise = GaussianNoise(sigma=0.01)
    x = torch.zeros(4, 20_000)
    a, b = noise(x), noise(x)
    assert abs(float(a.std()) - 0.01) < 0.0005
    assert not torch.equal(a, b)
    torch.manual_seed(3)
    c = noise(x)
    torch.manual_seed(3)
    assert torch.equal(c, noise(x))


@pytest.mark.parametrize(
    "build",
    [
        lambda: MedianFilter(kernel=4),
        lambda: Quantization(bits=0),
        lambda: LowPass(cutoff_hz=9000),
        lambda: LowPass(taps=10),
        lambda: DownUpSample(rate=16_000),
        lambda: GaussianNoise(sigma=0),
    ],
)
def test_invalid_parameters_raise_one_line_config_errors(build):
    with pytest.raises(ConfigError) as info:
        build()
    assert "\n" not in str(info.value)


def test_non_batch_input_is_refused():
    with pytest.raises(ConfigError, match="median"):
        MedianFilter()(torch.zeros(10))
