"""One home per preset and default: the config classes' lookups by name and :mod:`staa.defaults`."""

from __future__ import annotations

import pytest

from staa.attacks.staa import GeneratorConfig, STAATrainConfig
from staa.defaults import DEFAULT_EPS, GENERATOR_PRESET, TRAINING_PRESET
from staa.errors import ConfigError


@pytest.mark.parametrize(("cls", "override"), [(GeneratorConfig, {"eps": 0.01}), (STAATrainConfig, {"lr": 3e-3})])
def test_every_preset_is_its_named_classmethod_with_overrides(cls, override):
    for name in cls.PRESETS:
        assert cls.preset(name) == getattr(cls, name)()
        assert cls.preset(name, **override) == getattr(cls, name)(**override) != cls.preset(name)
    with pytest.raises(ConfigError, match=r"unknown .* preset 'nope' \(expected " + ", ".join(cls.PRESETS)):
        cls.preset("nope")


def test_defaults_name_existing_presets_and_a_valid_eps():
    assert GENERATOR_PRESET in GeneratorConfig.PRESETS and TRAINING_PRESET in STAATrainConfig.PRESETS
    assert 0 < DEFAULT_EPS <= 1
    assert (
        GeneratorConfig.preset("realtime", eps=0.01).fold == 2
        and GeneratorConfig.preset("realtime", eps=0.01).eps == 0.01
    )


def test_the_default_generator_is_one_everywhere(tmp_path):
    """``GeneratorConfig()``, ``staa generator train``'s --arch and an experiment without a preset: one generator."""
    import inspect

    from staa.cli.generator import train
    from staa.experiment.plans import AttackerPlan, generator_config

    assert GeneratorConfig() == GeneratorConfig.preset(GENERATOR_PRESET)
    assert inspect.signature(train).parameters["arch"].default == GENERATOR_PRESET
    plan = AttackerPlan("staa", "staa", "STAA-Net", "comparison", DEFAULT_EPS)
    assert generator_config(plan) == GeneratorConfig()


def test_a_stored_config_without_the_newer_fields_is_the_authors_wave_u_net():
    """A checkpoint's config.json written before ``architecture``, ``mask``… existed keeps its network."""
    old = {k: v for k, v in GeneratorConfig.authors().to_dict().items()
           if k not in ("architecture", "mask", "upsample", "bound", "noise_channels", "draws")}  # fmt: skip
    assert GeneratorConfig.from_dict(old) == GeneratorConfig.authors()


def test_k_percent_is_the_asked_budget_and_the_earlier_name_is_still_read():
    """``k_percent`` names the generator's budget; ``sparsity_pct`` (stored configs, experiment files) still reads."""
    assert GeneratorConfig.from_dict({"sparsity_pct": 5.0}).k_percent == 5.0
    assert GeneratorConfig.preset("fast", sparsity_pct=5) == GeneratorConfig.preset("fast", k_percent=5)
    assert "sparsity_pct" not in GeneratorConfig().to_dict()


def test_the_earlier_flag_names_are_hidden_aliases():
    from typer.testing import CliRunner

    from staa.cli import app

    text = CliRunner().invoke(app, ["generator", "train", "--help"]).output
    assert "--k-percent" in text and "--budget-k-percent" in text
    assert "--sparsity-pct" not in text and "--budget-sparsity" not in text
