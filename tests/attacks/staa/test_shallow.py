"""The shallow adjoint generator: the threat's first front-end block, transposed by hand, and a two-rate context."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from staa.attacks.staa import (
    Generator,
    GeneratorConfig,
    ShallowAdjointGenerator,
    STAANet,
    STAATrainConfig,
    train_generator,
)
from staa.attacks.staa.shallow import TimeTaps
from staa.errors import ConfigError
from staa.metrics import mask_jaccard
from staa.models import build_model
from staa.models.base import SERModel, standardize
from tests.attacks.staa.test_adjoint import foundation


def threat_with_statistics(arch: str) -> SERModel:
    """An untrained threat whose batch norms have non-trivial running statistics and scales, so that
    folding them into the convolution is exercised (a fresh batch norm is the identity)."""
    torch.manual_seed(0)
    model = build_model(arch, num_classes=7, hidden=8).eval()
    for module in model.cnn:
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.normal_()  # some negative: a pool must still pick the folded output's maximum
            module.bias.data.normal_()
    return model


def shallow(threat: SERModel, **overrides) -> Generator:
    torch.manual_seed(0)
    return Generator.for_config(GeneratorConfig.shallow(eps=0.05, context_channels=16, **overrides), [threat])


def clips(n: int = 3, samples: int = 4000, seed: int = 0) -> Tensor:
    return 0.1 * torch.randn(n, samples, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("arch", ["emo18", "zhao19"])
def test_its_first_block_and_transpose_are_the_threats_own(arch: str) -> None:
    """The block's features equal the threat's first block on the standardised clip, and given the true
    ∂L/∂h₁ as coefficients the map is the threat's own ∂L/∂x: the folded batch norm, the pooling
    winners, the activation's slope, the transposed convolution and the standardisation are exact."""
    threat = threat_with_statistics(arch).double()
    g = shallow(threat).eval().double()
    x = clips().double()
    xi = x.clone().requires_grad_(True)
    first = threat.cnn[:4](standardize(xi)[:, None])
    first.retain_grad()
    threat.head(threat.cnn[4:](first)).logsumexp(-1).sum().backward()
    h, state = g.block(x)
    assert torch.allclose(h.transpose(1, 2), first.detach(), rtol=1e-9, atol=1e-9)  # (B, T, C) against (B, C, T)
    z = g.block.transpose(first.grad.transpose(1, 2), state)
    assert torch.allclose(z, xi.grad, rtol=1e-6, atol=1e-9 * float(xi.grad.abs().max()))
    assert float(xi.grad.abs().max()) > 0


def test_it_perturbs_exactly_the_budget_on_each_clips_own_positions() -> None:
    g = shallow(threat_with_statistics("emo18")).eval()
    x = clips(4)
    with torch.no_grad():
        out = g(x)
        alone = g(x[2:3]).delta
    kept = (out.delta != 0).double().mean(-1)
    assert torch.allclose(kept, torch.full_like(kept, 0.1), atol=1e-3), kept
    assert float(out.delta.abs().max()) <= 0.05 + 1e-7
    assert mask_jaccard(out.delta) < 0.5
    assert torch.allclose(alone, out.delta[2:3], atol=1e-7)  # a clip's δ does not depend on its batch


def test_a_silent_stretch_and_a_short_clip_keep_the_budget() -> None:
    """Digital silence ties every sample of a pooling window; a clip shorter than one coarse frame has
    a single context frame. Neither gives NaN or loses the budget."""
    g = shallow(threat_with_statistics("emo18")).eval()
    x = clips(2, 4000)
    x[0, 1000:3000] = 0.0
    with torch.no_grad():
        for batch in (x, clips(1, 800)):
            delta = g(batch).delta
            assert torch.isfinite(delta).all()
            assert torch.allclose((delta != 0).double().mean(-1), torch.full((len(batch),), 0.1, dtype=torch.float64),
                                  atol=2e-3)  # fmt: skip


@pytest.mark.parametrize(("frames", "kernel"), [(9, 5), (2, 7), (6, 4)])
def test_time_taps_are_a_depthwise_convolution_over_time_plus_the_input(frames: int, kernel: int) -> None:
    """Shifted multiply-adds in (B, T, C) layout equal PyTorch's depthwise convolution on (B, C, T), edges
    included (zeros beyond the clip; a clip shorter than the kernel; an even kernel), gradients too."""
    torch.manual_seed(0)
    taps = TimeTaps(3, kernel).double()
    taps.weight.data.normal_()
    a = torch.randn(2, frames, 3, dtype=torch.float64, requires_grad=True)
    half = kernel // 2
    padded = nn.functional.pad(a.transpose(1, 2), (half, kernel - 1 - half))
    expected = a + nn.functional.conv1d(padded, taps.weight.T[:, None, :], groups=3).transpose(1, 2)
    assert torch.allclose(taps(a), expected, atol=1e-12)
    assert torch.autograd.gradcheck(taps, (a,))
    assert torch.equal(TimeTaps(3, kernel)(a), a)  # fresh taps pass the features through


def test_training_reaches_the_context_network_and_not_the_front() -> None:
    g = shallow(threat_with_statistics("emo18")).train()
    assert not g.front.training
    g(clips()).x_adv.pow(2).sum().backward()
    assert float(g.context.local[0].weight.grad.abs().sum()) > 0
    assert float(g.context.context.out.weight.grad.abs().sum()) > 0
    assert g.gain.grad is not None and all(p.grad is None for p in g.front.parameters())


def test_a_checkpoint_round_trips_as_the_shallow_generator(tmp_path) -> None:
    threat = threat_with_statistics("zhao19")
    g = shallow(threat).eval()
    g.save_pretrained(tmp_path / "g")
    loaded = Generator.from_pretrained(tmp_path / "g").eval()
    assert isinstance(loaded, ShallowAdjointGenerator) and loaded.config == g.config
    x = clips()
    with torch.no_grad():
        assert torch.equal(loaded(x).delta, g(x).delta)
        attack = STAANet.from_pretrained(threat, tmp_path / "g")
        assert torch.allclose(attack(x, threat(x).argmax(-1)).x_adv, torch.clamp(x + g(x).delta, -1, 1), atol=1e-6)


def test_what_it_cannot_attack_is_refused() -> None:
    with pytest.raises(ConfigError, match="Emo18- or Zhao19-style"):
        shallow(foundation("wav2vec2"))
    with pytest.raises(ConfigError, match="topk"):
        GeneratorConfig.shallow(mask="threshold")
    assert GeneratorConfig.preset("shallow").architecture == "shallow-adjoint"


@pytest.mark.slow  # trains Emo18, then the shallow generator for 100 steps
def test_shallow_generator_learns_to_fool_on_its_own_positions(trained_threat, tmp_path) -> None:
    """Against a trained Emo18 on held-out synthetic clips, training lowers the C&W margin below the
    untrained generator's and below the same magnitudes on random positions (margins rather than ASR:
    21 test clips move an ASR by ±20 points)."""
    t = trained_threat
    threat = t.threat
    before = t.margin(shallow(threat))
    g = shallow(threat)
    config = STAATrainConfig.topk(steps=100, dense_steps=20, anneal_steps=40, eval_every=50)
    train_generator(g, [threat], t.corpus, tmp_path / "generator", config, show_progress=False)
    after, random_positions = t.margin(g), t.margin(g, control=True)
    assert after < before - 0.05, (before, after)
    assert after < random_positions - 0.05, (after, random_positions)
