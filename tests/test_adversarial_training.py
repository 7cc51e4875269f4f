"""Adversarial training: resumable, same checkpoint format as staa.train, and it buys robustness."""

from __future__ import annotations

import json

import pytest
import torch

from staa.adversarial_training import AdvTrainConfig, adversarial_train
from staa.attacks.pgd import SparsePGD
from staa.data.cache import PreparedCorpus
from staa.errors import ConfigError
from staa.models import build_model, load_model

ATTACK = {"steps": 3, "loss": "ce", "early_stop": False}


def emo18() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("emo18", num_classes=7, hidden=32)


def test_checkpoints_and_resume_follow_staa_train(tiny_corpus: PreparedCorpus, tmp_path):
    cfg = AdvTrainConfig(epochs=1, eps=0.01, attack_options=ATTACK, adv_fraction=0.5)
    adversarial_train(emo18(), tiny_corpus, tmp_path, cfg, show_progress=False)
    assert (tmp_path / "best" / "model.safetensors").exists() and (tmp_path / "last.pt").exists()
    cfg.epochs = 2
    result = adversarial_train(emo18(), tiny_corpus, tmp_path, cfg, show_progress=False)
    assert [h["epoch"] for h in result["history"]] == [1, 2]  # epoch 1 was resumed, not redone
    assert 0.0 <= result["history"][1]["train_attack_success"] <= 1.0
    saved = json.loads((tmp_path / "train.json").read_text())
    assert saved["train_config"]["adv_fraction"] == 0.5 and saved["train_config"]["attack"] == "pgd"
    assert load_model(tmp_path / "best").config.model_type == "emo18"


def test_invalid_settings_are_refused(tiny_corpus: PreparedCorpus, tmp_path):
    with pytest.raises(ConfigError, match="adv_fraction"):
        AdvTrainConfig(adv_fraction=1.5)
    with pytest.raises(ConfigError, match="attack 'pgd'"):
        cfg = AdvTrainConfig(epochs=1, attack_options={"width": 3})
        adversarial_train(emo18(), tiny_corpus, tmp_path, cfg, show_progress=False)
