"""Defences rebuild from their recorded dicts and from CLI spec strings."""

from __future__ import annotations

import pytest
import torch

from staa.defenses import DEFENCES, build_defence, build_defences, parse_spec
from staa.errors import ConfigError


def test_parse_spec_types_values():
    assert parse_spec("lowpass:cutoff_hz=3000.5,taps=63") == {"name": "lowpass", "cutoff_hz": 3000.5, "taps": 63}
    assert parse_spec("median:bpda=true") == {"name": "median", "bpda": True}


@pytest.mark.parametrize("name", sorted(DEFENCES))
def test_every_defence_round_trips_through_its_dict(name):
    defence = DEFENCES[name]()
    rebuilt = build_defence(defence.to_dict())
    assert type(rebuilt) is type(defence) and rebuilt.to_dict() == defence.to_dict()
    if not defence.randomised:
        x = torch.rand(2, 500) - 0.5
        assert torch.equal(defence(x), rebuilt(x))


def test_pipeline_string_and_errors():
    pipeline = build_defences("median:kernel=3+quantize:bits=10")
    assert [d.to_dict() for d in pipeline] == [
        {"name": "median", "kernel": 3, "bpda": False},
        {"name": "quantize", "bits": 10},
    ]
    assert build_defences("none") == []
    with pytest.raises(ConfigError, match="unknown defence 'mp3'"):
        build_defence("mp3")
    with pytest.raises(ConfigError, match="median"):
        build_defence("median:width=3")
    with pytest.raises(ConfigError, match="key=value"):
        build_defence("median:3")
