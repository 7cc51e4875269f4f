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
    assert GeneratorConfig.preset("realtime", eps=0.01).fold == 2 and GeneratorConfig.preset("realtime", eps=0.01).eps == 0.01
