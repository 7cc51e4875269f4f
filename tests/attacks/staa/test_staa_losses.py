"""Each loss term against a hand computation on tiny tensors, and each ablation switch of Table 6."""

from __future__ import annotations

import math

import pytest
import torch

from staa.attacks.staa.losses import (
    LossWeights,
    adversarial_loss,
    boundary_weights,
    magnitude_loss,
    quantisation_loss,
    sparsity_loss,
    staa_loss,
)
from staa.attacks.staa.trainer import STAATrainConfig
from staa.errors import ConfigError

LOGITS = torch.tensor([[2.0, 1.0, 0.5], [0.0, 3.0, -1.0]])
LABELS = torch.tensor([0, 0])
V = torch.tensor([[0.03, -0.04, 0.0], [0.01, 0.0, -0.02]])
M = torch.tensor([[1.0, 0.3, 0.0], [0.0, 1.0, 1.0]])
SCORES = torch.tensor([[0.9, 0.3, 0.1], [0.4, 0.6, 0.5]])


def test_adversarial_loss_is_the_floored_cw_margin_averaged_over_the_batch() -> None:
    # untargeted, label 0: margins z_0 − max_{j≠0} z_j = 2 − 1 = 1 and 0 − 3 = −3
    assert float(adversarial_loss(LOGITS, LABELS)) == pytest.approx((1 + 0) / 2)  # floored at −κ = 0
    assert float(adversarial_loss(LOGITS, LABELS, kappa=5.0)) == pytest.approx((1 - 3) / 2)
    assert float(adversarial_loss(LOGITS, LABELS, kappa=2.0)) == pytest.approx((1 - 2) / 2)
    # targeted at class 1: max_{j≠1} z_j − z_1 = 2 − 1 = 1 and 0 − 3 = −3
    target = torch.tensor([1, 1])
    assert float(adversarial_loss(LOGITS, target, targeted=True, kappa=10.0)) == pytest.approx((1 - 3) / 2)


def test_focus_weights_the_margins_towards_the_clips_nearest_the_boundary() -> None:
    margins = torch.tensor([0.0, 1.0, 3.0, -2.0])  # two clips pulled at 1 and 3 from the boundary, one fooled
    w = boundary_weights(margins, focus=1.0)
    expected = torch.tensor([1.0, math.exp(-1), math.exp(-3), 1.0])  # fooled clips weigh as the boundary
    assert torch.allclose(w, expected / expected.sum() * 4) and float(w.mean()) == pytest.approx(1.0)
    assert torch.allclose(boundary_weights(margins, focus=1e6), torch.ones(4), atol=1e-5)  # τ → ∞: the plain mean
    logits = torch.tensor([[2.0, 1.0, 0.5], [5.0, 1.0, 0.0]], requires_grad=True)  # margins 1 and 4
    adversarial_loss(logits, LABELS, focus=1.0).backward()
    near, far = logits.grad[:, 0]  # the weights are constants: each clip's pull on its logit is its weight
    assert float(near / far) == pytest.approx(math.exp(3)) and float(near + far) == pytest.approx(1.0)
    unfocused = adversarial_loss(LOGITS, LABELS, kappa=5.0, focus=1e6)
    assert float(unfocused) == pytest.approx(float(adversarial_loss(LOGITS, LABELS, kappa=5.0)), abs=1e-5)


def test_regularisers_match_hand_computed_norms() -> None:
    assert float(magnitude_loss(V)) == pytest.approx((math.sqrt(0.03**2 + 0.04**2) + math.sqrt(0.01**2 + 0.02**2)) / 2)
    assert float(sparsity_loss(M)) == pytest.approx((1.3 + 2.0) / 2)
    assert float(sparsity_loss(V)) == pytest.approx((0.07 + 0.03) / 2)  # ‖v‖₁ for the no-factorisation ablation
    # binary masks at γ = 0.5: [1, 0, 0] and [0, 1, 1]; residuals [−0.1, 0.3, 0.1] and [0.4, −0.4, −0.5]
    expected = (math.sqrt(0.01 + 0.09 + 0.01) + math.sqrt(0.16 + 0.16 + 0.25)) / 2
    assert float(quantisation_loss(SCORES, 0.5)) == pytest.approx(expected)


def test_quantisation_gradient_pushes_scores_away_from_gamma() -> None:
    scores = SCORES.clone().requires_grad_(True)
    quantisation_loss(scores, 0.5).backward()
    descent = -scores.grad
    assert torch.all((descent > 0) == (SCORES >= 0.5))  # above γ moves up, below γ moves down


def test_total_loss_is_the_weighted_sum_of_eq7() -> None:
    w = LossWeights(magnitude=1e-3, sparsity=1e-4, quantisation=1e-4)
    terms = staa_loss([LOGITS], LABELS, V, M, SCORES, w, kappa=5.0)
    expected = (
        terms["adversarial"] + 1e-3 * terms["magnitude"] + 1e-4 * terms["sparsity"] + 1e-4 * terms["quantisation"]
    )
    assert float(terms["total"]) == pytest.approx(float(expected))
    assert float(terms["adversarial"]) == pytest.approx(-1.0)


def test_ensemble_adversarial_term_is_the_mean_over_threat_models() -> None:
    w = LossWeights(0.0, 0.0, 0.0)
    other = torch.tensor([[5.0, 0.0, 0.0], [5.0, 0.0, 0.0]])  # margins 5 and 5
    terms = staa_loss([LOGITS, other], LABELS, V, M, SCORES, w, kappa=5.0)
    assert float(terms["adversarial"]) == pytest.approx((-1.0 + 5.0) / 2)


def test_no_factorisation_puts_sparsity_on_v_and_drops_quantisation() -> None:
    cfg = STAATrainConfig(no_factorisation=True)
    w = cfg.weights()
    assert not w.factorised and w.quantisation == 0.0 and w.magnitude == 1e-3 and w.sparsity == 1e-4
    terms = staa_loss([LOGITS], LABELS, V, torch.ones_like(V), None, w)
    assert "quantisation" not in terms
    assert float(terms["sparsity"]) == pytest.approx(float(sparsity_loss(V)))


@pytest.mark.parametrize(
    ("switch", "zeroed"),
    [("no_magnitude", "magnitude"), ("no_sparsity", "sparsity"), ("no_quantisation", "quantisation")],
)
def test_each_ablation_zeroes_exactly_its_weight(switch: str, zeroed: str) -> None:
    base = STAATrainConfig.paper().weights()
    ablated = STAATrainConfig.paper(**{switch: True}).weights()
    for name in ("magnitude", "sparsity", "quantisation"):
        if name == zeroed:
            assert getattr(base, name) > 0 and getattr(ablated, name) == 0.0
        else:
            assert getattr(ablated, name) == getattr(base, name)
    terms = staa_loss([LOGITS], LABELS, V, M, SCORES, ablated)
    full = staa_loss([LOGITS], LABELS, V, M, SCORES, base)
    assert float(full["total"] - terms["total"]) == pytest.approx(float(getattr(base, zeroed) * full[zeroed]), abs=1e-6)


def test_presets_and_weights_are_read_from_the_config() -> None:
    paper, authors = STAATrainConfig.paper(), STAATrainConfig.authors()
    assert (paper.lambda_m, paper.lambda_s, paper.lambda_q, paper.lr) == (1e-3, 1e-4, 1e-4, 1e-4)
    assert (authors.lambda_m, authors.lambda_s, authors.lambda_q, authors.lr) == (0.0, 0.1, 1e-6, 1e-3)
    paper.lambda_s = 0.5  # what a sparsity-budget callback does between epochs
    assert paper.weights().sparsity == 0.5


def test_invalid_training_configs_are_refused() -> None:
    with pytest.raises(ConfigError, match="target_class"):
        STAATrainConfig(targeted=True)
    with pytest.raises(ConfigError, match="≥ 0"):
        STAATrainConfig(lambda_s=-1.0)
    with pytest.raises(ConfigError, match="focus must be > 0"):
        STAATrainConfig(focus=0.0)
