"""The adjoint generator: the threat's front end, transposed, carries learned coefficients to the samples."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor
from transformers import HubertConfig, Wav2Vec2Config, WavLMConfig

from staa.attacks.base import margin_loss
from staa.attacks.staa import AdjointGenerator, Generator, GeneratorConfig, STAANet, STAATrainConfig, train_generator
from staa.attacks.staa.streaming import StreamingGenerator
from staa.errors import CheckpointError, ConfigError
from staa.metrics import mask_jaccard, mask_periodicity
from staa.models import build_model
from staa.models.base import SERModel, standardize


def adjoint(threat: SERModel, **overrides) -> Generator:
    torch.manual_seed(0)
    return Generator.for_config(GeneratorConfig.adjoint(eps=0.05, context_channels=16, **overrides), [threat])


def clips(n: int = 3, samples: int = 4000, seed: int = 0) -> Tensor:
    return 0.1 * torch.randn(n, samples, generator=torch.Generator().manual_seed(seed))


def test_with_the_true_feature_gradient_it_is_one_gradient_step(threat) -> None:
    """Given u = ∂L/∂h, the magnitude map is the threat's own ∂L/∂x: the front end, its weights, the
    clip's standardisation and the transpose are the threat's, not an approximation of them."""
    g = adjoint(threat).eval()
    x = clips().double()
    g.double(), threat.double()
    xi = x.clone().requires_grad_(True)
    h = threat.cnn(standardize(xi)[:, None])
    h.retain_grad()
    threat.head(h).logsumexp(-1).sum().backward()
    g.context.forward = lambda features: h.grad  # type: ignore[method-assign]
    magnitude = g.adjoint(x)
    assert torch.allclose(magnitude, xi.grad, rtol=1e-6, atol=1e-9 * float(xi.grad.abs().max()))
    assert float(xi.grad.abs().max()) > 0


def test_draws_average_the_transpose_over_sparsely_perturbed_copies(threat) -> None:
    """With ``draws`` = 4 and the true ∂L/∂h as coefficients, the map is the mean of the threat's normalised
    gradients at 4 copies of each clip, each with ±ε on 10 % of its samples; the copies are drawn from
    the clip itself, so a clip gets the same δ alone or in any batch."""
    g = adjoint(threat, draws=4).eval()
    x = clips().double()
    g.double(), threat.double()

    def true_coefficients(h: Tensor) -> Tensor:
        h = h.detach().requires_grad_(True)
        with torch.enable_grad():
            return torch.autograd.grad(threat.head(h).logsumexp(-1).sum(), h)[0]

    seen: list[Tensor] = []
    features = g.features
    g.features = lambda copies: seen.append(copies.detach().clone()) or features(copies)  # type: ignore[method-assign]
    g.context.forward = true_coefficients  # type: ignore[method-assign]
    with torch.no_grad():
        out = g(x)
    copies = seen[0].reshape(3, 4, -1)
    noise = copies - x[:, None]
    assert torch.allclose(noise.abs()[noise != 0], torch.tensor(0.05, dtype=torch.float64))
    share = (noise != 0).double().mean(-1)
    assert torch.all((share > 0.08) & (share < 0.12)), share
    assert not torch.equal(noise[:, 0], noise[:, 1]) and not torch.equal(noise[0], noise[1])  # copies and clips differ
    xi = copies.reshape(12, -1).clone().requires_grad_(True)
    threat.head(threat.cnn(standardize(xi)[:, None])).logsumexp(-1).sum().backward()
    grads = xi.grad.reshape(3, 4, -1)
    mean = (grads / grads.pow(2).mean(-1, keepdim=True).sqrt()).mean(1)
    top = mean.abs().topk(400, dim=-1).indices
    assert torch.equal(out.mask, torch.zeros_like(mean).scatter_(-1, top, 1.0))
    expected = 0.05 * torch.clamp(g.gain.detach() * mean / mean.pow(2).mean(-1, keepdim=True).sqrt(), -1, 1)
    assert torch.allclose(out.magnitudes, expected, rtol=1e-6, atol=1e-12)
    with torch.no_grad():
        assert torch.allclose(g(x[1:2]).delta, out.delta[1:2], atol=1e-9)


def test_it_carries_a_frozen_copy_of_the_threats_front_end(threat) -> None:
    g = adjoint(threat).train()
    assert not g.front.training  # batch norm keeps the threat's running statistics while the generator trains
    assert not any(p.requires_grad for p in g.front.parameters())
    assert all(p.requires_grad for p in g.context.parameters())
    x = clips()
    with torch.no_grad():
        assert torch.equal(g.front(standardize(x)[:, None]), threat.cnn(standardize(x)[:, None]))
    g.front[0].weight.data.add_(1.0)
    assert not torch.equal(g.front[0].weight, threat.cnn[0].weight)  # a copy: training it never touches the threat


def test_it_perturbs_exactly_the_budget_and_each_clip_on_its_own_positions(threat) -> None:
    g = adjoint(threat, k_percent=10.0).eval()
    x = clips(4)
    with torch.no_grad():
        out = g(x)
    kept = (out.delta != 0).double().mean(-1)
    assert torch.allclose(kept, torch.full_like(kept, 0.1), atol=1e-3), kept
    assert float(out.delta.abs().max()) <= 0.05 + 1e-7
    assert mask_jaccard(out.delta) < 0.5


def test_training_reaches_the_context_network_and_not_the_front(threat) -> None:
    g = adjoint(threat).train()
    g(clips()).x_adv.pow(2).sum().backward()
    assert float(g.context.out.weight.grad.abs().sum()) > 0
    assert g.gain.grad is not None and all(p.grad is None for p in g.front.parameters())


def test_a_checkpoint_round_trips_and_is_checked(threat, tmp_path) -> None:
    g = adjoint(threat).eval()
    g.save_pretrained(tmp_path / "g")
    loaded = Generator.from_pretrained(tmp_path / "g").eval()
    assert isinstance(loaded, AdjointGenerator) and loaded.config == g.config
    x = clips()
    with torch.no_grad():
        assert torch.equal(loaded(x).delta, g(x).delta)
    attack = STAANet.from_pretrained(threat, tmp_path / "g")
    with torch.no_grad():
        assert torch.allclose(attack(x, threat(x).argmax(-1)).x_adv, torch.clamp(x + g(x).delta, -1, 1), atol=1e-6)
    config = (tmp_path / "g" / "config.json").read_text()
    assert '"model_type": "emo18"' in config
    for wrong, why in (
        (('"model_type": "emo18"', '"model_type": "zhao19"'), "model.safetensors"),  # other weights
        (('"model_type": "emo18"', '"model_type": "no-such-model"'), "unknown model"),
        (('"num_classes": 7', '"num_classes": 1'), "num_classes"),
        (('"hidden": 8', '"hidden": "8"'), "hidden"),
    ):
        (tmp_path / "g" / "config.json").write_text(config.replace(*wrong))
        with pytest.raises(CheckpointError, match=why):
            STAANet.from_pretrained(threat, tmp_path / "g")


def test_a_zhao19_front_end_works_too() -> None:
    torch.manual_seed(0)
    threat = build_model("zhao19", num_classes=4, hidden=8).eval()
    with torch.no_grad():
        out = adjoint(threat).eval()(clips())
    assert float((out.delta != 0).double().mean()) == pytest.approx(0.1, abs=1e-3)


def test_guided_it_starts_as_one_exact_gradient_step_and_learns_a_correction(threat) -> None:
    """Untrained, the guided generator's map is the threat's own −∂L/∂x (L the C&W margin at its prediction),
    up to each clip's scale; its correction is what trains, never the threat's head or front end it carries."""
    g = adjoint(threat, threat_gradient=True).eval()
    x = clips().double()
    g.double(), threat.double()
    xi = x.clone().requires_grad_(True)
    logits = threat(xi)
    (grad,) = torch.autograd.grad(margin_loss(logits, logits.argmax(-1), kappa=float("inf")).sum(), xi)
    with torch.no_grad():
        z, alone = g.adjoint(x), g.adjoint(x[1:2])
    assert torch.allclose(z / z.norm(dim=-1, keepdim=True), -grad / grad.norm(dim=-1, keepdim=True), atol=1e-9)
    assert torch.allclose(alone, z[1:2], atol=1e-9 * float(z.abs().max()))  # a clip alone, as in a batch
    g.train().float(), threat.float()
    assert not g.context.head.training  # no dropout in the head it reads
    g(clips()).x_adv.pow(2).sum().backward()
    assert float(g.context.correction.out.weight.grad.abs().sum()) > 0
    assert all(p.grad is None for p in [*g.front.parameters(), *g.context.head.parameters()])


def test_guided_a_checkpoint_round_trips_with_the_threats_head(threat, tmp_path) -> None:
    g = adjoint(threat, threat_gradient=True).eval()
    with torch.no_grad():
        g.context.correction.out.weight.normal_()  # a trained-looking correction
    g.save_pretrained(tmp_path / "g")
    loaded = Generator.from_pretrained(tmp_path / "g").eval()
    assert loaded.config.threat_gradient and torch.equal(
        loaded.context.head.lstm.weight_hh_l0, threat.head.lstm.weight_hh_l0
    )
    x = clips()
    with torch.no_grad():
        assert torch.equal(loaded(x).delta, g(x).delta)
    unguided = adjoint(threat).config.to_dict()
    assert "threat_gradient" not in unguided  # read as every config written before the field
    with pytest.raises(ConfigError, match="threat_gradient needs the adjoint architecture"):
        GeneratorConfig.shallow(threat_gradient=True)
    with pytest.raises(ConfigError, match="head reads its convolutional front end"):
        Generator.for_config(GeneratorConfig.guided(), [foundation("wav2vec2")])


def test_guided_stages_each_read_the_threats_gradient_where_the_steps_before_took_the_clip(threat, tmp_path) -> None:
    """Two untrained stages: the map is the sum of the normalised −∂L/∂x at the clip and at the clip the first
    step made (its v at the top-k of its own map), L the margin at the *clean* clip's class in both, as PGD keeps
    its labels; each stage carries the threat's head, and all round-trip."""
    sharp = copy.deepcopy(threat)
    with torch.no_grad():  # a head whose class depends on the clip, so that the first step flips some
        sharp.head.linear.weight.mul_(50.0)
        sharp.head.linear.bias.zero_()
    g = adjoint(sharp, threat_gradient=True, stages=2).eval()
    x = clips(8).double()
    g.double(), sharp.double()
    with torch.no_grad():
        clean = sharp(x).argmax(-1)

    def step(at: Tensor, labels: Tensor = clean) -> Tensor:
        at = at.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(margin_loss(sharp(at), labels, kappa=float("inf")).sum(), at)
        return -grad / grad.pow(2).mean(-1, keepdim=True).sqrt()

    def made(z: Tensor) -> tuple[Tensor, Tensor]:
        z = z / z.pow(2).mean(-1, keepdim=True).sqrt()
        v = 0.05 * torch.clamp(g.gain.detach().double() * z, -1, 1)
        mask = torch.zeros_like(z).scatter_(-1, z.abs().topk(400, dim=-1).indices, 1.0)
        return v, mask

    v1, m1 = made(step(x))
    first = torch.clamp(x + v1 * m1, -1, 1)
    v, mask = made(step(x) + step(first))
    with torch.no_grad():
        out = g(x)
        at_first = sharp(first).argmax(-1)
    assert torch.equal(out.mask, mask) and torch.allclose(out.magnitudes, v, atol=1e-9)
    assert not torch.equal(mask, m1)  # the second step moved the positions
    assert (at_first != clean).any()  # so the class read at the first step's clip would have given another map:
    assert not torch.equal(made(step(x) + step(first, at_first))[1], mask)
    g.float(), sharp.float()
    g.save_pretrained(tmp_path / "g")
    loaded = Generator.from_pretrained(tmp_path / "g").eval()
    assert loaded.config.stages == 2 and len(loaded.stages()) == 2
    assert all(torch.equal(c.head.linear.weight, sharp.head.linear.weight) for c in loaded.stages())
    with torch.no_grad():
        assert torch.equal(loaded(clips()).delta, g(clips()).delta)
    for wrong in ({"stages": 2}, {"stages": 2, "threat_gradient": True, "draws": 2}, {"stages": 9}):
        with pytest.raises(ConfigError, match="stages"):
            GeneratorConfig.adjoint(**wrong)


def foundation(family: str, normalize: bool = True) -> SERModel:
    """A tiny foundation SER model built from an encoder config (no pre-trained weights, no hub)."""
    configs = {"wav2vec2": Wav2Vec2Config, "wavlm": WavLMConfig, "hubert": HubertConfig}
    encoder = configs[family](hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                              conv_dim=(8, 8), conv_kernel=(10, 3), conv_stride=(5, 2),
                              num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)  # fmt: skip
    torch.manual_seed(0)
    return build_model(family, num_classes=4, encoder=encoder.to_dict(), proj_size=8, normalize=normalize).eval()


@pytest.mark.parametrize(("family", "normalize"), [("wav2vec2", True), ("wavlm", False), ("hubert", True)])
def test_a_foundation_models_feature_encoder_is_its_front_end(family: str, normalize: bool, tmp_path) -> None:
    """For wav2vec 2.0, WavLM and HuBERT the front end is the frozen convolutional feature encoder, fed as
    the threat feeds it (standardised, or raw for encoders pre-trained on raw amplitude): the product
    with any coefficients is the threat's own vector–Jacobian product, and the checkpoint rebuilds it
    from the recorded encoder config alone."""
    threat = foundation(family, normalize)
    g = adjoint(threat).eval()
    x = clips(2, 3200).double()
    g.double(), threat.double()
    u = torch.randn(
        2, 8, 319, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )  # 8 channels, 20 ms frames
    xi = x.clone().requires_grad_(True)
    fed = standardize(xi) if normalize else xi
    (threat.encoder.feature_extractor(fed) * u).sum().backward()
    g.context.forward = lambda features: u  # type: ignore[method-assign]
    assert torch.allclose(g.adjoint(x), xi.grad, rtol=1e-6, atol=1e-9 * float(xi.grad.abs().max()))
    assert float(xi.grad.abs().max()) > 0
    g, threat = adjoint(foundation(family, normalize)).eval(), foundation(family, normalize)
    g.save_pretrained(tmp_path / "g")
    with torch.no_grad():
        out = g(clips(3, 3200))
        assert torch.equal(STAANet.from_pretrained(threat, tmp_path / "g").generator(clips(3, 3200)).delta, out.delta)
    kept = (out.delta != 0).double().mean(-1)
    assert torch.allclose(kept, torch.full_like(kept, 0.1), atol=1e-3), kept
    assert mask_jaccard(out.delta) < 0.5
    g.train()(clips(2, 3200)).x_adv.pow(2).sum().backward()  # training: through the encoder's transpose
    assert float(g.context.out.weight.grad.abs().sum()) > 0 and all(p.grad is None for p in g.front.parameters())


def test_what_it_cannot_be_is_refused(threat) -> None:
    with pytest.raises(ConfigError, match="for_config"):
        Generator(GeneratorConfig.adjoint())
    with pytest.raises(ConfigError, match="front"):
        Generator.for_config(GeneratorConfig.adjoint())  # no threat, no recorded front end
    with pytest.raises(ConfigError, match="topk"):
        GeneratorConfig.adjoint(mask="threshold")
    with pytest.raises(ConfigError, match="alignment"):
        GeneratorConfig.adjoint(alignment="authors")
    with pytest.raises(ConfigError, match="draws"):
        GeneratorConfig.fast(draws=4)  # a Wave-U-Net has no front end to perturb
    with pytest.raises(ConfigError, match="convolutional front end"):
        Generator.for_config(GeneratorConfig.adjoint(), [torch.nn.Linear(2, 2)])
    with pytest.raises(ConfigError, match="Wave-U-Net streams"):
        StreamingGenerator(adjoint(threat, factorised=False))


@pytest.mark.slow  # trains Emo18, then the adjoint generator for 100 steps
def test_adjoint_generator_learns_to_fool_on_its_own_positions(trained_threat, tmp_path) -> None:
    """Against a trained Emo18 on held-out synthetic clips, training lowers the C&W margin below the
    untrained generator's, the learned positions beat the same magnitudes on random positions of the
    same count (margins rather than ASR: 21 test clips move an ASR by ±20 points), and the mask keeps its
    budget, differs from clip to clip and is no lattice."""
    t = trained_threat
    threat, x = t.threat, t.x
    before = t.margin(adjoint(threat))
    g = adjoint(threat)
    config = STAATrainConfig.topk(steps=100, dense_steps=20, anneal_steps=40, eval_every=50)
    train_generator(g, [threat], t.corpus, tmp_path / "generator", config, show_progress=False)
    front, own = g.front.state_dict(), threat.cnn.state_dict()
    assert all(torch.equal(front[k], own[k]) for k in own)  # Adam and batch norm left the threat's copy as it was
    after, random_positions = t.margin(g), t.margin(g, control=True)
    assert after < before - 0.05, (before, after)
    assert after < random_positions - 0.05, (after, random_positions)
    with torch.no_grad():
        delta = g.eval()(x).delta
    kept = (delta != 0).double().mean(dim=-1)
    assert torch.all((kept > 0.085) & (kept <= 0.1)), kept  # neither collapsed nor saturated: v ≠ 0 where m = 1
    assert mask_jaccard(delta) < 0.3  # each clip its own positions (one lattice ≈ 1)
    assert float(mask_periodicity(delta).mean()) < 0.9
