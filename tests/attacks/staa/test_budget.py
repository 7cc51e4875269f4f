"""Budget controllers steer a loss weight after every validation until the measurement meets the target."""

from __future__ import annotations

import math

import pytest
import torch

from staa.attacks.staa.budget import SNRBudget, SparsityBudget
from staa.attacks.staa.config import GeneratorConfig
from staa.attacks.staa.generator import Generator
from staa.attacks.staa.train_config import STAATrainConfig
from staa.attacks.staa.trainer import train_generator
from staa.data.cache import prepare
from staa.data.synthetic import SyntheticCorpus
from staa.errors import ConfigError
from staa.models import build_model

TARGET = 10.0


def test_multiplicative_rule_is_dual_ascent_on_log_lambda():
    cfg = STAATrainConfig(lambda_s=1e-4)
    SparsityBudget(TARGET, lr=0.5)(0, {"val_sparsity_all": 40.0}, cfg)
    assert math.isclose(cfg.lambda_s, 1e-4 * 4.0**0.5)  # 4× over budget → λ_s × √4
    SparsityBudget(TARGET, lr=1.0)(1, {"val_sparsity_all": 5.0}, cfg)
    assert math.isclose(cfg.lambda_s, 1e-4)  # half the budget → halved


def test_multiplicative_rule_moves_lambda_at_most_max_factor_per_update():
    """A collapsed mask (0 %) lowers λ_s tenfold, not a thousandfold; a dense one raises it by the cap."""
    cfg = STAATrainConfig(lambda_s=1e-4)
    SparsityBudget(TARGET)(0, {"val_sparsity_all": 0.0}, cfg)
    assert math.isclose(cfg.lambda_s, 1e-5)
    SparsityBudget(TARGET, max_factor=4.0)(1, {"val_sparsity_all": 90.0}, cfg)
    assert math.isclose(cfg.lambda_s, 4e-5)
    with pytest.raises(ConfigError, match="max_factor"):
        SparsityBudget(TARGET, max_factor=1.0)


def test_a_validation_meets_the_budget_within_ten_percent_of_the_target():
    budget = SparsityBudget(TARGET)
    for measured, met in ((10.9, True), (11.1, False), (2.0, True)):
        assert budget.met({"val_sparsity_all": measured}) is met, measured
    assert SNRBudget(30.0).met({"val_snr_db": None}) is False  # no successful clip: nothing meets an SNR floor
    assert SNRBudget(30.0).met({"val_snr_db": 29.0}) is True  # within 10 % of 30 dB


def test_additive_rule_is_a_damped_signed_multiplier_and_resumes():
    cfg = STAATrainConfig(lambda_s=1e-4)
    budget = SparsityBudget(TARGET, lr=0.5, update="additive", damping=2.0)
    budget(0, {"val_sparsity_all": 0.0}, cfg)  # e = 1e-4 · (0 − 10)/10 = −1e-4
    assert math.isclose(cfg.lambda_s, 1e-4 - 0.5e-4 - 2e-4)  # μ = 0.5e-4, λ = μ + 2e
    resumed = SparsityBudget(TARGET, lr=0.5, update="additive", damping=2.0)
    resumed.load_state(budget.state())
    resumed(1, {"val_sparsity_all": TARGET}, cfg)  # on target: the integral part alone remains
    assert math.isclose(cfg.lambda_s, 0.5e-4)


def test_snr_budget_raises_lambda_m_when_too_loud_and_skips_validations_without_snr():
    cfg = STAATrainConfig(lambda_m=1e-3)
    SNRBudget(30.0)(0, {"val_snr_db": 10.0}, cfg)  # 20 dB short → amplitude ratio 10
    assert math.isclose(cfg.lambda_m, 1e-2)
    SNRBudget(30.0)(1, {"val_snr_db": None}, cfg)
    assert math.isclose(cfg.lambda_m, 1e-2)


def test_invalid_budgets_are_refused():
    with pytest.raises(ConfigError):
        SparsityBudget(0.0)
    with pytest.raises(ConfigError):
        SparsityBudget(10.0, update="pid")
    with pytest.raises(ConfigError):
        SNRBudget(30.0, lr=0)


@pytest.mark.slow  # trains a generator for 16 passes
def test_budgeted_training_lands_within_two_points_of_the_requested_sparsity(tmp_path):
    """Closed loop on the synthetic corpus: a generator with the paper's threshold mask, against an untrained
    Emo18 wide enough to pull on δ, starts far from the budget; the controller settles it at 10 ± 2 %."""
    synthetic = SyntheticCorpus(n_speakers=5, per_emotion=1, seconds=0.5, seed=1)
    corpus = prepare(synthetic, tmp_path / "cache", show_progress=False)
    torch.manual_seed(0)
    threat = build_model("emo18", num_classes=7, hidden=64).eval()
    paper_shape = {"mask": "threshold", "upsample": "transposed", "bound": "tanh", "noise_channels": 0}  # the paper's
    generator = Generator(GeneratorConfig.fast(eps=0.05, **paper_shape))
    config = STAATrainConfig(epochs=16, lr=1e-3, lambda_s=1e-4, lambda_q=0.0, step_size=100)  # validated every pass
    budget = SparsityBudget(TARGET, lr=0.3, update="additive", damping=4.0)
    result = train_generator(
        generator, [threat], corpus, tmp_path / "gen", config, show_progress=False, callbacks=[budget]
    )
    achieved = [h["val_sparsity_all"] for h in result["history"]]
    print("achieved sparsity per validation (%):", [round(a, 2) for a in achieved])
    assert achieved[0] < TARGET - 2.0  # it starts far from the budget ...
    assert all(abs(a - TARGET) <= 2.0 for a in achieved[-4:])  # ... and ends, and stays, within ±2 points
    assert result["best"]["budget_met"]
