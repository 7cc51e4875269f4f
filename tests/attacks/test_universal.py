"""The universal sparse perturbation: learned over clips, within ε and its sample budget, reusable."""

from __future__ import annotations

import pytest
import torch

from staa.attacks.base import margin_loss
from staa.attacks.universal import UniversalConfig, UniversalPerturbation
from staa.data.cache import PreparedCorpus
from staa.errors import ConfigError
from staa.models import build_model

EPS = 0.1


@pytest.fixture(scope="module")
def setting(tiny_corpus: PreparedCorpus):
    """An untrained Emo18 (wide enough that its decision moves under ε = 0.1) and the training clips."""
    torch.manual_seed(0)
    model = build_model("emo18", num_classes=7, hidden=64).eval()
    x = torch.from_numpy(tiny_corpus.split("train").waves[:].copy())
    return model, x


def mean_margin(model, x, delta, labels):
    with torch.no_grad():
        return float(margin_loss(model(torch.clamp(x + delta, -1, 1)), labels).mean())


@pytest.mark.slow  # fits δ over epochs of a trained model
def test_learned_sparse_perturbation_beats_zero_and_random_of_the_same_budget(setting):
    model, x = setting
    attack = UniversalPerturbation(model, EPS, k_percent=20)
    history = attack.fit(x, config=UniversalConfig(epochs=6, lr=0.1))
    delta = attack.perturbation
    k = attack.budget(x.shape[1])
    assert delta.abs().max() <= EPS and int((delta != 0).sum()) <= k
    labels = model.predict(x)
    g = torch.Generator().manual_seed(1)
    random_delta = torch.zeros_like(delta)
    random_delta[torch.randperm(len(delta), generator=g)[:k]] = EPS * torch.sign(torch.randn(k, generator=g))
    learned, zero, random = (mean_margin(model, x, d, labels) for d in (delta, torch.zeros_like(delta), random_delta))
    assert learned < zero and learned < random
    assert history[-1]["adversarial"] < history[0]["adversarial"]
    result = attack(x)
    assert (result.delta.abs() <= EPS + 1e-6).all()
    assert (result.sparsity <= 20.0 + 1e-9).all()


@pytest.mark.slow  # fits δ over epochs of a trained model
def test_threshold_mask_perturbation_fools_some_clips_where_zero_fools_none(setting):
    model, x = setting
    attack = UniversalPerturbation(model, EPS)
    attack.fit(x, config=UniversalConfig(epochs=4, lr=0.1, lambda_s=0.0))  # no budget: mask = [∂ ≥ γ]
    assert float(attack(x).success.float().mean()) > 0.0
    zero = UniversalPerturbation(model, EPS, perturbation=torch.zeros(x.shape[1]))
    assert float(zero(x).success.float().mean()) == 0.0


def test_saved_perturbation_reloads_and_tiles_to_other_lengths(setting, tmp_path):
    model, _ = setting
    delta = torch.zeros(1000)
    delta[[3, 500]] = torch.tensor([0.05, -0.02])
    attack = UniversalPerturbation(model, 0.05, k=2, perturbation=delta)
    loaded = UniversalPerturbation.from_file(model, attack.save(tmp_path / "u.safetensors"))
    assert torch.equal(loaded.perturbation, delta) and loaded.k == 2 and loaded.eps == 0.05
    assert torch.equal(loaded.tiled(2500)[2000:], delta[:500])
    x = 0.1 * torch.sin(torch.arange(2500.0))[None].repeat(2, 1)
    assert torch.allclose(loaded(x).delta[0], loaded.tiled(2500), atol=1e-7)


def test_perturbations_breaking_their_budget_are_refused(setting):
    model, _ = setting
    with pytest.raises(ConfigError, match="exceeds eps"):
        UniversalPerturbation(model, 0.01, perturbation=torch.full((1000,), 0.02))
    with pytest.raises(ConfigError, match="budget 1"):
        UniversalPerturbation(model, 0.1, k=1, perturbation=torch.full((1000,), 0.01))
    with pytest.raises(ConfigError, match="not been fitted"):
        UniversalPerturbation(model, 0.1)(0.1 * torch.sin(torch.arange(1000.0))[None])
