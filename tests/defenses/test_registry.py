"""Defenses rebuild from their recorded dicts and from CLI spec strings."""

from __future__ import annotations

import pytest
import torch

from staa.defenses import DEFENSES, build_defense, build_defenses, parse_spec
from staa.errors import ConfigError


def test_parse_spec_types_values():
    assert parse_spec("lowpass:cutoff_hz=3000.5,taps=63") == {"name": "lowpass", "cutoff_hz": 3000.5, "taps": 63}
    assert parse_spec("median:bpda=true") == {"name": "median", "bpda": True}


@pytest.mark.parametrize("name", sorted(DEFENSES))
def test_every_defense_round_trips_through_its_dict(name):
    defense = DEFENSES[name]()
    rebuilt = build_defense(defense.to_dict())
    assert type(rebuilt) is type(defense) and rebuilt.to_dict() == defense.to_dict()
    if not defense.randomised:
        x = torch.rand(2, 500) - 0.5
        assert torch.equal(defense(x), rebuilt(x))


def test_pipeline_string_and_errors():
    pipeline = build_defenses("median:kernel=3+quantize:bits=10")
    assert [d.to_dict() for d in pipeline] == [
        {"name": "median", "kernel": 3, "bpda": False},
        {"name": "quantize", "bits": 10},
    ]
    assert build_defenses("none") == []
    with pytest.raises(ConfigError, match="unknown defense 'mp3'"):
        build_defense("mp3")
    with pytest.raises(ConfigError, match="median"):
        build_defense("median:width=3")
    with pytest.raises(ConfigError, match="key=value"):
        build_defense("median:3")
