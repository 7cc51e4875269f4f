"""The model registry: names map to classes imported on first use, like the attack registry."""

from __future__ import annotations

import subprocess
import sys

import pytest

from staa.defenses import Defended
from staa.errors import CheckpointError, ConfigError
from staa.models import MODELS, Emo18, build_model, load_model, model_class


def test_names_resolve_to_their_classes_and_model_types():
    assert model_class("emo18") is Emo18 and model_class("defended") is Defended
    for name in MODELS:
        assert model_class(name).config_class.model_type == name  # a checkpoint's model_type is its registry name


def test_unknown_names_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown model 'lstm' .*available: defended, emo18, hubert"):
        build_model("lstm")
    build_model("emo18", num_classes=3, hidden=8).save_pretrained(tmp_path / "emo18")
    with pytest.raises(CheckpointError, match="is a 'emo18' model, expected 'zhao19'"):
        load_model(tmp_path / "emo18", expected="zhao19")


def test_scratch_models_load_without_transformers():
    probe = "import sys, staa.models; staa.models.build_model('zhao19', num_classes=2); print('transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
