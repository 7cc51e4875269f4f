"""The relative amplitude budget (``eps_db``): every attack of the registry keeps each clip's own bound,
and an attack under it is blind to the recording level (half as loud: the same SNR and success)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from staa.attacks.base import Attack
from staa.attacks.budget import AmplitudeBudget, eps_from_db, eps_to_db
from staa.attacks.registry import ATTACKS, build_attack
from staa.attacks.staa import Generator, GeneratorConfig, STAANet
from staa.attacks.staa.controls import MaskControl
from staa.attacks.universal import UniversalConfig, UniversalPerturbation
from staa.errors import ConfigError
from staa.uncertainty import rate_interval

EPS_DB = 20.0
TOLERANCE = 1e-6  # float32 rounding of x + δ − x


def _generator(**budget: float) -> Generator:
    torch.manual_seed(0)
    return Generator(GeneratorConfig.authors(levels=3, features=4, mask="topk", k_percent=10.0, **budget)).eval()


def _universal(model: nn.Module, x: Tensor, **budget: float) -> Attack:
    attack = UniversalPerturbation(model, k_percent=10, **budget)
    attack.fit(x, config=UniversalConfig(epochs=2, batch_size=4, lr=0.1))
    return attack


# Each attack at a small budget of its own work; the registry test below fails when an attack is missing here.
BUILDERS: dict[str, Callable[[nn.Module, Tensor, dict[str, float]], Attack]] = {
    "pgd": lambda m, x, b: build_attack("pgd", m, k_percent=10, steps=3, seed=0, **b),
    "pgd0": lambda m, x, b: build_attack("pgd0", m, k_percent=10, steps=3, seed=0, **b),
    "sparse_rs": lambda m, x, b: build_attack("sparse_rs", m, k_percent=10, queries=20, seed=0, **b),
    "sigma_zero": lambda m, x, b: build_attack("sigma_zero", m, steps=5, **b),
    "fmn": lambda m, x, b: build_attack("fmn", m, steps=5, **b),
    "sparsefool": lambda m, x, b: build_attack("sparsefool", m, steps=2, deepfool_steps=3, **b),
    "onepixel": lambda m, x, b: build_attack("onepixel", m, pixels=4, popsize=8, iterations=2, seed=0, **b),
    "staa": lambda m, x, b: STAANet(m, _generator(**b)),
    "staa_mask_control": lambda m, x, b: MaskControl(m, _generator(**b), kind="random"),
    "zero": lambda m, x, b: build_attack("zero", m, **b),
    "universal": lambda m, x, b: _universal(m, x, **b),
}


@pytest.fixture
def uneven_clips(random_inputs: Tensor) -> Tensor:
    """Four clips at four recording levels (peaks about 0.8, 0.3, 0.1 and 0.03): one ε would fit none of them."""
    scale = torch.tensor([1.0, 0.4, 0.12, 0.04])[:, None]
    x = random_inputs.clamp(-0.8, 0.8) * scale
    return x


def test_every_attack_of_the_registry_is_covered() -> None:
    assert set(BUILDERS) == set(ATTACKS.names(internal=True))


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_attack_keeps_each_clips_relative_bound(name: str, random_model: nn.Module, uneven_clips: Tensor) -> None:
    torch.manual_seed(0)
    attack = BUILDERS[name](random_model, uneven_clips, {"eps_db": EPS_DB})
    result = attack(uneven_clips)
    bound = eps_from_db(uneven_clips, EPS_DB)
    assert torch.allclose(result.eps, bound.squeeze(1))
    peaks = result.delta.abs().amax(dim=1)
    assert (peaks <= bound.squeeze(1) + TOLERANCE).all(), (name, peaks, bound.squeeze(1))
    if name != "zero":  # the quietest clip's bound is a tenth of the loudest's: an absolute ε would break one of them
        assert (result.snr_db[peaks > 0] >= EPS_DB - 1e-3).all()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_half_as_loud_gives_the_same_snr_and_success(name: str, trained_tiny: tuple[nn.Module, Tensor]) -> None:
    model, clips = trained_tiny
    x = clips[:24].clamp(-0.9, 0.9) * 0.8  # δ at 20 dB under the peak never reaches the amplitude limits
    torch.manual_seed(0)
    loud = BUILDERS[name](model, x, {"eps_db": EPS_DB})(x)
    torch.manual_seed(0)
    quiet = BUILDERS[name](model, x / 2, {"eps_db": EPS_DB})(x / 2)
    finite = torch.isfinite(loud.snr_db) & torch.isfinite(quiet.snr_db)
    assert torch.equal(torch.isfinite(loud.snr_db), torch.isfinite(quiet.snr_db))
    assert ((loud.snr_db - quiet.snr_db)[finite].abs() <= 0.1).all()
    interval = rate_interval(loud.success.numpy())
    assert interval.low <= float(quiet.success.float().mean()) <= interval.high
    assert torch.allclose(quiet.eps, loud.eps / 2)


def test_an_absolute_eps_is_louder_on_a_quieter_corpus(trained_tiny: tuple[nn.Module, Tensor]) -> None:
    """What the relative budget removes: at one absolute ε, half the loudness costs about 6 dB of SNR."""
    model, clips = trained_tiny
    x = clips[:24].clamp(-0.9, 0.9) * 0.8
    attack = build_attack("pgd", model, eps=0.05, k_percent=10, steps=3, seed=0)
    loud, quiet = attack(x), build_attack("pgd", model, eps=0.05, k_percent=10, steps=3, seed=0)(x / 2)
    both = torch.isfinite(loud.snr_db) & torch.isfinite(quiet.snr_db)
    assert (loud.snr_db[both] - quiet.snr_db[both]).median() > 5.0


def test_budget_round_trip_and_checks() -> None:
    x = torch.tensor([[0.5, -1.0, 0.2], [0.0, 0.1, -0.05]])
    eps = AmplitudeBudget(eps_db=26.0).of(x)
    assert eps.shape == (2, 1)
    assert torch.allclose(eps_to_db(x, eps), torch.tensor([26.0, 26.0], dtype=torch.float64))
    assert torch.equal(AmplitudeBudget(eps=0.05).of(x), torch.full((2, 1), 0.05))
    for bad in ({}, {"eps": 0.05, "eps_db": 26.0}, {"eps": 0.0}, {"eps_db": -1.0}, {"eps_db": float("nan")}):
        with pytest.raises(ConfigError):
            AmplitudeBudget(**bad)


def test_generator_checkpoints_record_their_budget_and_old_ones_load_as_absolute(tmp_path) -> None:
    x = torch.rand(2, 2000) - 0.5
    _generator(eps=0.05).save_pretrained(tmp_path / "abs")
    assert "eps_db" not in json.loads((tmp_path / "abs" / "config.json").read_text())  # as written before eps_db
    loaded = Generator.from_pretrained(tmp_path / "abs")
    assert loaded.config.eps_db is None and torch.equal(loaded.clip_eps(x), torch.full((2, 1), 0.05))
    _generator(eps_db=EPS_DB).save_pretrained(tmp_path / "rel")
    loaded = Generator.from_pretrained(tmp_path / "rel")
    assert loaded.config.eps_db == EPS_DB and torch.allclose(loaded.clip_eps(x), eps_from_db(x, EPS_DB))


def test_a_relative_generator_bounds_each_clip_in_training_mode(uneven_clips: Tensor) -> None:
    generator = _generator(eps_db=EPS_DB).train()
    out = generator(uneven_clips)
    assert (out.magnitudes.abs() <= eps_from_db(uneven_clips, EPS_DB) + TOLERANCE).all()


def test_a_relative_universal_perturbation_reloads_and_keeps_its_kind(
    random_model: nn.Module, uneven_clips, tmp_path
) -> None:
    attack = _universal(random_model, uneven_clips, eps_db=EPS_DB)
    attack.save(tmp_path / "u.safetensors")
    again = UniversalPerturbation.from_file(random_model, tmp_path / "u.safetensors")
    assert again.eps_db == EPS_DB
    assert torch.equal(again(uneven_clips).x_adv, attack(uneven_clips).x_adv)
    with pytest.raises(Exception, match="eps_db"):
        UniversalPerturbation.from_file(random_model, tmp_path / "u.safetensors", eps=0.05)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_a_relative_generator_trains_the_same_at_half_the_loudness(
    reduction: str, random_model: nn.Module, uneven_clips
) -> None:
    """One training step's loss terms do not depend on the recording level (the mean reduction measures v in
    units of each clip's ε), so the generator learns the same thing from a quiet corpus as from a loud one."""
    from staa.attacks.staa import STAATrainConfig
    from staa.attacks.staa.trainer import backward_step

    cfg = STAATrainConfig(reduction=reduction, lambda_m=1e-3)
    terms = []
    for x in (uneven_clips, uneven_clips / 2):
        generator = _generator(eps_db=EPS_DB).train()
        terms.append(backward_step(generator, [random_model], x, cfg))
    assert terms[0]["adversarial"] == pytest.approx(terms[1]["adversarial"], rel=1e-4)
    if reduction == "mean":
        assert terms[0]["magnitude"] == pytest.approx(terms[1]["magnitude"], rel=1e-4)
