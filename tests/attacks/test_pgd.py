"""Sparse PGD: the ε and k budgets hold on any model, the support is the salient sample, and dense
PGD reaches the success rate of the Adversarial Robustness Toolbox's PGD under the same settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from staa.attacks.pgd import SparsePGD
from staa.errors import ConfigError

EPS = 0.05


def test_budget_is_k_or_a_percentage_of_the_clip(random_model):
    assert SparsePGD(random_model, EPS).budget(1000) == 1000
    assert SparsePGD(random_model, EPS, k=50).budget(1000) == 50
    assert SparsePGD(random_model, EPS, k=50).budget(20) == 20
    assert SparsePGD(random_model, EPS, k_percent=6.8).budget(96_000) == 6528
    assert SparsePGD(random_model, EPS, k_percent=10).budget(5) == 1


@pytest.mark.parametrize(
    "options",
    [
        {"k": 1, "k_percent": 2},
        {"k": 0},
        {"k_percent": 0},
        {"k_percent": 101},
        {"steps": 0},
        {"loss": "l2"},
        {"alpha": 0},
    ],
)
def test_invalid_options_are_refused(random_model, options):
    with pytest.raises(ConfigError):
        SparsePGD(random_model, EPS, **options)


@pytest.mark.parametrize("k", [1, 17, 500, 2000])
@pytest.mark.parametrize("targeted", [False, True])
@pytest.mark.parametrize("loss", ["margin", "ce"])
def test_eps_and_k_are_never_exceeded(random_model, random_inputs, k, targeted, loss):
    attack = SparsePGD(random_model, EPS, k=k, steps=5, loss=loss, targeted=targeted, seed=0)
    result = attack(random_inputs, target=3 if targeted else None)
    l0 = (result.delta != 0).sum(dim=1)
    assert (l0 <= k).all() and (l0 >= 1).all()
    assert result.delta.abs().max() <= EPS + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1


def test_k_percent_bounds_the_sparsity(random_model, random_inputs):
    result = SparsePGD(random_model, EPS, k_percent=2.5, steps=3, seed=0)(random_inputs)
    assert (result.sparsity <= 2.5).all() and (result.sparsity > 0).all()


def test_k1_moves_only_the_sample_the_decision_depends_on(spike):
    model, x = spike(4, 256, 37)
    result = SparsePGD(model, EPS, k=1, seed=0)(x)
    assert result.success.all()
    assert (result.adv_pred == 1).all()  # the nearer boundary
    assert set(torch.nonzero(result.delta)[:, 1].tolist()) == {37}


@pytest.mark.parametrize("target", [1, 2])
def test_targeted_k1_reaches_the_target(spike, target):
    model, x = spike(4, 256, 37)
    result = SparsePGD(model, EPS, k=1, targeted=True, seed=0)(x, target=target)
    assert (result.adv_pred == target).all()
    assert set(torch.nonzero(result.delta)[:, 1].tolist()) == {37}


def test_the_same_seed_gives_the_same_audio(random_model, random_inputs):
    runs = [SparsePGD(random_model, EPS, k=100, steps=3, seed=7)(random_inputs).x_adv for _ in range(2)]
    assert torch.equal(runs[0], runs[1])


def test_dense_pgd_matches_art_pgd(trained_tiny):
    art = pytest.importorskip("art")
    from art.attacks.evasion import ProjectedGradientDescentPyTorch
    from art.estimators.classification import PyTorchClassifier

    model, x = trained_tiny
    eps, alpha, steps = 0.002, 0.0005, 10
    clean = model.predict(x)
    ours = SparsePGD(model, eps, alpha=alpha, steps=steps, loss="ce", early_stop=False, seed=0)(x, clean)

    classifier = PyTorchClassifier(
        model,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(x.shape[1],),
        nb_classes=model.num_classes,
        clip_values=(-1.0, 1.0),
    )
    pgd = ProjectedGradientDescentPyTorch(
        classifier,
        norm=np.inf,
        eps=eps,
        eps_step=alpha,
        max_iter=steps,
        num_random_init=1,
        batch_size=len(x),
        verbose=False,
    )
    np.random.seed(0)
    x_art = torch.from_numpy(pgd.generate(x.numpy(), y=np.eye(model.num_classes)[clean.numpy()])).float()
    assert (x_art - x).abs().max() <= eps + 1e-6
    art_asr = (model.predict(x_art) != clean).float().mean().item()
    our_asr = ours.success.float().mean().item()
    assert 0.1 < art_asr < 0.95, f"settings give an uninformative ASR ({art_asr:.2f}); art {art.__version__}"
    assert abs(our_asr - art_asr) <= 0.08, (our_asr, art_asr)
