"""The generator: any length in, same length out, |δ| ≤ ε, binary masks at inference, exact alignment."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from staa.attacks.staa import Generator, GeneratorConfig
from staa.attacks.staa.layers import clip_seeds, depth_to_space, hashed_noise, reflect_indices, space_to_depth
from staa.attacks.staa.sizes import input_size, output_size, plan
from staa.errors import CheckpointError, ConfigError
from staa.models import build_model


def tiny(**kw) -> GeneratorConfig:
    return GeneratorConfig.authors(**{"levels": 3, "features": 4, **kw})


def zero_magnitudes(g: Generator) -> Generator:
    """v = ε·tanh(0) = 0 everywhere: the magnitude head outputs exactly zero."""
    with torch.no_grad():
        g.magnitude_decoder.head.weight.zero_()
        g.magnitude_decoder.head.bias.zero_()
    return g


def wave(b: int, n: int, seed: int = 0) -> torch.Tensor:
    return (torch.rand(b, n, generator=torch.Generator().manual_seed(seed)) * 1.8 - 0.9).float()


def test_authors_preset_matches_the_authors_network() -> None:
    g = Generator(GeneratorConfig.authors())
    assert g.num_parameters() == 50_681_858  # official-code.md §3.8
    p = g.plan(96_000)  # DEMoS: official-code.md §3.5
    assert (p.input_size, p.output_size, p.left, p.right) == (108_541, 96_261, 6_140, 6_401)
    assert g.plan(139_200).input_size == 151_549


@pytest.mark.parametrize("n", [1, 2, 3, 5, 17, 63, 64, 65, 257, 1000, 4099])
@pytest.mark.parametrize("bound", ["tanh", "clip"])
def test_output_length_and_bound_for_any_length(n: int, bound: str) -> None:
    g = Generator(tiny(bound=bound, eps=0.05))
    with torch.no_grad():
        # a large bias drives the clip bound into saturation, so |v| = ε is reached and not exceeded
        g.magnitude_decoder.head.bias.fill_(3.0)
    x = wave(2, n)
    out = g(x)
    for t in (out.x_adv, out.delta, out.magnitudes, out.mask, out.scores):
        assert t.shape == (2, n)
    assert out.magnitudes.abs().max() <= 0.05
    assert out.delta.abs().max() <= 0.05
    assert (out.x_adv - x).abs().max() <= 0.05 + 1e-7
    if bound == "clip":
        assert float(out.magnitudes.detach().max()) == pytest.approx(0.05)


def test_size_arithmetic_is_consistent_with_the_network() -> None:
    cfg = tiny()
    sizes = [output_size(cfg, code) for code in range(1, 14)]
    assert sizes[0] == 0  # too short a code to reach full resolution
    positive = [s for s in sizes if s > 0]
    assert len(positive) > 3 and positive == sorted(set(positive))  # strictly increasing once defined
    for n in (1, 100, 3333):
        p = plan(cfg, n)
        assert p.output_size >= n and p.left >= 0 and p.right >= p.left
        assert input_size(cfg, 1) <= p.input_size


def test_reflection_padding_matches_torch_and_extends_to_any_length() -> None:
    x = torch.arange(10.0)[None]
    assert torch.equal(x[:, reflect_indices(10, 4, 7)], F.pad(x[None], (4, 7), mode="reflect")[0])
    long = reflect_indices(3, 7, 7)  # pads longer than the signal keep reflecting
    assert long.tolist() == [1, 2, 1, 0, 1, 2, 1] + [0, 1, 2] + [1, 0, 1, 2, 1, 0, 1]
    assert reflect_indices(1, 2, 3).tolist() == [0] * 6


def test_inference_mask_is_exactly_binary_and_thresholded_at_gamma() -> None:
    g = Generator(tiny(gamma=0.5)).eval()
    out = g(wave(3, 700))
    assert set(out.mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(out.mask, (out.scores >= 0.5).float())
    assert torch.equal(out.delta, out.magnitudes * out.mask)


def test_training_quantisation_mixes_continuous_and_binary_values() -> None:
    torch.manual_seed(0)
    g = Generator(tiny(quant_prob=0.5)).train()
    out = g(wave(2, 2000))
    binary = (out.mask == 0) | (out.mask == 1)
    kept_soft = torch.isclose(out.mask, out.scores) & ~binary
    assert torch.all(binary | kept_soft)  # every element is either ∂ or its binary value
    assert 0.35 < kept_soft.float().mean() < 0.65  # about quant_prob of them stay continuous
    out.mask.sum().backward()
    assert g.position_decoder.head.weight.grad.abs().sum() > 0  # gradient flows through the soft entries
    g.zero_grad()
    hard_only = Generator(tiny(quant_prob=0.0)).train()
    assert set(hard_only(wave(1, 500)).mask.unique().tolist()) <= {0.0, 1.0}


def test_zero_perturbation_leaves_the_clip_unchanged_exactly() -> None:
    g = zero_magnitudes(Generator(tiny())).eval()
    x = wave(2, 999)
    x[0, 0], x[1, 1] = 1.0, -1.0  # the valid range's edges survive too
    out = g(x)
    assert torch.equal(out.x_adv, x)


def test_authors_alignment_shifts_the_clip_even_without_perturbation() -> None:
    g = zero_magnitudes(Generator(tiny(alignment="authors"))).eval()
    x = wave(1, 999)
    out = g(x)
    p = g.plan(999)
    assert p.left > 0
    assert not torch.equal(out.x_adv, x)
    # the authors' clean signal: the first N samples of the padded input, i.e. x delayed by `left`
    assert torch.equal(out.x_adv[0, p.left :], x[0, : 999 - p.left])
    assert torch.equal(out.x_adv[0, : p.left], x[0, 1 : p.left + 1].flip(0))


def test_without_factorisation_the_perturbation_is_dense() -> None:
    g = Generator(tiny(factorised=False)).eval()
    out = g(wave(2, 500))
    assert g.position_decoder is None and out.scores is None
    assert torch.equal(out.delta, out.magnitudes)
    assert (out.delta != 0).float().mean() > 0.99
    assert g.num_parameters() < Generator(tiny()).num_parameters()


def test_generator_runs_at_another_eps_by_scaling_the_magnitudes() -> None:
    g = Generator(tiny(eps=0.05)).eval()
    x = wave(1, 400)
    assert torch.allclose(g(x, eps=0.01).magnitudes * 5, g(x).magnitudes, atol=1e-7)


def test_save_and_load_give_identical_outputs(tmp_path) -> None:
    g = Generator(tiny(norm="bn", bound="clip", eps=0.02)).eval()
    x = wave(2, 777)
    g.save_pretrained(tmp_path / "gen")
    assert json.loads((tmp_path / "gen" / "config.json").read_text())["model_type"] == "staa-generator"
    h = Generator.from_pretrained(tmp_path / "gen").eval()
    assert h.config == g.config
    assert torch.equal(h(x).x_adv, g(x).x_adv)


def test_loading_refuses_other_checkpoints(tmp_path) -> None:
    build_model("emo18", num_classes=7).save_pretrained(tmp_path / "emo18")
    with pytest.raises(CheckpointError, match="'emo18' model"):
        Generator.from_pretrained(tmp_path / "emo18")
    Generator(tiny()).save_pretrained(tmp_path / "small")
    cfg = json.loads((tmp_path / "small" / "config.json").read_text())
    (tmp_path / "small" / "config.json").write_text(json.dumps({**cfg, "features": 8}))
    with pytest.raises(CheckpointError, match="do not match"):
        Generator.from_pretrained(tmp_path / "small")


def test_invalid_configs_and_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match="bound"):
        GeneratorConfig.authors(bound="soft")
    with pytest.raises(ConfigError, match="levels"):
        GeneratorConfig.authors(levels=1)
    with pytest.raises(ConfigError, match="batch, samples"):
        Generator(tiny())(torch.zeros(10))


def test_presets_differ_as_documented() -> None:
    fast, authors = GeneratorConfig.fast(), GeneratorConfig.authors()
    assert authors.channels == [32, 64, 128, 256, 512, 1024]
    assert GeneratorConfig.authors(growth="add", levels=4).channels == [32, 64, 96, 128]
    assert Generator(fast).num_parameters() * 100 < Generator(authors).num_parameters()


# ---- space-to-depth (fold > 1): the real-time configuration ------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5, 17, 63, 64, 65, 257, 1000, 4099])
@pytest.mark.parametrize("fold", [2, 4])
def test_folded_generator_keeps_length_and_bound_for_any_length(n: int, fold: int) -> None:
    g = Generator(tiny(fold=fold, bound="clip", eps=0.05))
    with torch.no_grad():
        g.magnitude_decoder.head.bias.fill_(3.0)  # saturate the bound in every channel of the frame
    x = wave(2, n)
    out = g(x)
    for t in (out.x_adv, out.delta, out.magnitudes, out.mask, out.scores):
        assert t.shape == (2, n)
    assert out.delta.abs().max() <= 0.05
    assert (out.x_adv - x).abs().max() <= 0.05 + 1e-7
    assert float(out.magnitudes.detach().max()) == pytest.approx(0.05)
    p = g.plan(n)
    assert p.input_size % fold == 0 and p.left % fold == 0 and p.output_size >= n


def test_space_to_depth_interleaves_samples_into_channels_and_back() -> None:
    x = torch.arange(12.0).reshape(1, 12)
    frames = space_to_depth(x, 4)
    assert frames.shape == (1, 4, 3)
    assert frames[0, :, 1].tolist() == [4.0, 5.0, 6.0, 7.0]  # frame 1 holds samples 4..7 as channels
    assert torch.equal(depth_to_space(frames), x)


@pytest.mark.parametrize("fold", [1, 4])
def test_each_output_sample_is_centred_on_its_input_sample(fold: int) -> None:
    """Output sample j's receptive field (where its gradient is non-zero) is centred on clip sample j.

    Decimation makes the centre wobble with j's phase by up to half the total stride (one bottleneck
    frame, fold·stride^(levels−1)); a front padding counted in frames instead of samples would be off
    by hundreds of samples.
    """
    torch.manual_seed(0)
    g = Generator(tiny(fold=fold, norm="none")).double().eval()
    total_stride = fold * g.config.stride ** (g.config.levels - 1)
    clips = [wave(1, 3000, seed).double().requires_grad_(True) for seed in range(3)]
    for j in range(1200, 1240, 3):
        reach = sum(torch.autograd.grad(g(x).magnitudes[0, j], x)[0].abs() for x in clips)
        support = reach[0].nonzero()[:, 0]
        assert len(support) > total_stride
        assert abs((int(support.min()) + int(support.max())) / 2 - j) <= total_stride / 2


def test_folded_zero_perturbation_leaves_the_clip_unchanged_exactly() -> None:
    g = zero_magnitudes(Generator(tiny(fold=4))).eval()
    x = wave(2, 999)
    assert torch.equal(g(x).x_adv, x)


def test_folded_generator_save_and_load_round_trip(tmp_path) -> None:
    g = Generator(GeneratorConfig.realtime()).eval()
    x = wave(2, 3001)
    g.save_pretrained(tmp_path / "rt")
    assert json.loads((tmp_path / "rt" / "config.json").read_text())["fold"] == 2
    h = Generator.from_pretrained(tmp_path / "rt").eval()
    assert h.config == g.config and h.config.fold == 2
    assert torch.equal(h(x).x_adv, g(x).x_adv)
    cfg = json.loads((tmp_path / "rt" / "config.json").read_text())
    (tmp_path / "rt" / "config.json").write_text(json.dumps({**cfg, "fold": 1}))
    with pytest.raises(CheckpointError, match="do not match"):  # a folded checkpoint cannot load unfolded
        Generator.from_pretrained(tmp_path / "rt")


def test_checkpoints_without_fold_load_as_unfolded(tmp_path) -> None:
    Generator(tiny()).save_pretrained(tmp_path / "old")
    cfg = json.loads((tmp_path / "old" / "config.json").read_text())
    del cfg["fold"]  # a checkpoint written before the option existed
    (tmp_path / "old" / "config.json").write_text(json.dumps(cfg))
    assert Generator.from_pretrained(tmp_path / "old").config.fold == 1


def test_realtime_preset_is_fast_on_frames_of_two_samples(tmp_path) -> None:
    realtime, fast = GeneratorConfig.realtime(), GeneratorConfig.fast()
    assert (realtime.fold, realtime.norm, realtime.channels) == (2, fast.norm, fast.channels)
    # a generator trained with the earlier preset (frames of 4 samples) still loads as what it was
    Generator(GeneratorConfig.realtime(fold=4)).save_pretrained(tmp_path / "fold4")
    assert Generator.from_pretrained(tmp_path / "fold4").config.fold == 4
    with pytest.raises(ConfigError, match="fold"):
        GeneratorConfig.authors(fold=0)


# ---- activation checkpointing: a training-memory option that changes no value ----------------------------


def gradients(g: Generator, x: torch.Tensor) -> dict[str, torch.Tensor]:
    torch.manual_seed(5)  # the same training-mode quantisation draw for every run
    out = g(x)
    g.zero_grad()
    (out.x_adv.square().sum() + out.scores.sum() + out.mask.sum()).backward()
    return {name: p.grad.clone() for name, p in g.named_parameters()}


@pytest.mark.parametrize("fold", [1, 4])
def test_checkpointed_gradients_equal_stored_ones(fold: int) -> None:
    torch.manual_seed(0)
    g = Generator(tiny(fold=fold)).double().train()
    x = wave(2, 3001).double()
    stored = gradients(g, x)
    assert g.checkpoint_activations() is g
    assert all(m.checkpointing for m in g.encoder) and g.position_decoder.blocks[0].up.checkpointing
    recomputed = gradients(g, x)
    assert stored.keys() == recomputed.keys()
    assert all(stored[k].abs().sum() > 0 for k in ("encoder.0.pre.0.0.weight", "position_decoder.head.weight"))
    for k in stored:
        assert torch.allclose(stored[k], recomputed[k], rtol=1e-12, atol=1e-14), k
    g.checkpoint_activations(False)
    assert not any(m.checkpointing for m in g.encoder)


def test_checkpointing_stores_fewer_tensors_for_the_backward_pass() -> None:
    """What the option is for: the graph keeps a fraction of the activations (they are recomputed)."""

    def saved_elements(g: Generator) -> int:
        count = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            nonlocal count
            count += t.numel()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            g(wave(1, 4000)).x_adv.sum()
        return count

    torch.manual_seed(0)
    g = Generator(GeneratorConfig.fast()).train()
    stored = saved_elements(g)
    assert saved_elements(g.checkpoint_activations()) * 4 < stored


def test_checkpointing_refuses_batch_norm_and_leaves_inference_alone() -> None:
    with pytest.raises(ConfigError, match="batch norm"):
        Generator(tiny(norm="bn")).checkpoint_activations()
    torch.manual_seed(0)
    g = Generator(tiny()).eval()
    x = wave(2, 999)
    before = g(x).x_adv
    assert torch.equal(g.checkpoint_activations()(x).x_adv, before)


# ---- linear up-sampling: no phase lattice from the architecture ------------------------------------------


def test_linear_upsampling_interpolates_between_frames_and_commutes_with_whole_frame_shifts() -> None:
    from staa.attacks.staa.layers import LinearUpsample

    up = LinearUpsample(4)
    x = torch.tensor([[[0.0, 4.0, 0.0]]])
    assert up(x).flatten().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0, 0.0]  # s(n−1)+1 samples
    long = torch.randn(2, 3, 40)
    assert torch.allclose(up(long)[..., 4 * 5 :], up(long[..., 5:]), atol=1e-6)


@pytest.mark.parametrize("upsample", ["linear", "transposed"])
def test_size_arithmetic_matches_the_network_for_both_upsamplings(upsample: str) -> None:
    cfg = tiny(upsample=upsample)
    g = Generator(cfg)
    for n in (1, 100, 3333):
        p = plan(cfg, n)
        h, skips = space_to_depth(torch.zeros(1, p.input_size), 1), []
        for block in g.encoder:
            h, skip = block(h)
            skips.append(skip)
        assert g.magnitude_decoder(h, skips).shape[-1] == p.output_size >= n


def test_fresh_top_k_positions_depend_on_the_clip_not_on_a_lattice() -> None:
    """With linear up-sampling a fresh generator's top-k positions differ between clips and are not periodic."""
    from staa.metrics import mask_jaccard, mask_periodicity

    torch.manual_seed(0)
    g = Generator(GeneratorConfig.fast()).eval()
    x = wave(6, 16_000, seed=4) * 0.5
    delta = g(x).delta
    assert mask_jaccard(delta) < 0.3  # independent positions at 10 %: ≈ 0.05; a shared comb: ≈ 1
    assert float(mask_periodicity(delta).nanmean()) < 0.9


def test_carrier_channels_are_per_clip_unless_fixed_and_never_depend_on_the_batch() -> None:
    x = 0.1 * torch.randn(3, 4000, generator=torch.Generator().manual_seed(1))
    seeds = clip_seeds(x, 0)
    assert torch.equal(seeds, clip_seeds(x.flip(0), 0).flip(0)) and len(set(seeds.tolist())) == 3
    assert torch.equal(clip_seeds(x + 1e-3, 0) == seeds, torch.zeros(3, dtype=torch.bool))
    carriers = hashed_noise(2, 100, seeds)
    assert carriers.shape == (3, 2, 100) and set(carriers.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(carriers[1], hashed_noise(2, 100, int(seeds[1])))  # one seed, one carrier, batched or not
    assert (carriers[0] != carriers[1]).float().mean() > 0.3  # clips get different carriers
    for noise in ("clip", "fixed"):
        torch.manual_seed(0)
        g = Generator(GeneratorConfig.fast(noise_channels=2, noise=noise)).eval()
        with torch.no_grad():
            together, alone = g(x).delta, g(x[1:2]).delta
        assert torch.allclose(together[1], alone[0], atol=1e-6)
    with pytest.raises(ConfigError, match="noise must be one of"):
        GeneratorConfig.fast(noise_channels=1, noise="white")
