"""Defense registry: build a defense from its recorded dict or from a CLI spec such as ``median:kernel=7``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from staa.defenses.base import Defense
from staa.errors import ConfigError
from staa.registry import Registry

DEFENSES = Registry(
    "defense",
    {
        "median": "staa.defenses.median:MedianFilter",
        "quantize": "staa.defenses.quantization:Quantization",
        "lowpass": "staa.defenses.lowpass:LowPass",
        "resample": "staa.defenses.lowpass:DownUpSample",
        "noise": "staa.defenses.noise:GaussianNoise",
    },
)


def build_defense(spec: Mapping[str, Any] | str) -> Defense:
    """A defense from ``{"name": "median", "kernel": 7}`` (its ``to_dict``) or the string ``"median:kernel=7"``."""
    if not isinstance(spec, (str, Mapping)):
        raise ConfigError(f"a defense must be a 'name:key=value' string or an object, got {spec!r}")
    spec = parse_spec(spec) if isinstance(spec, str) else dict(spec)
    name = spec.pop("name", None)
    if not isinstance(name, str) or name not in DEFENSES:
        raise ConfigError(f"unknown defense '{name}' (available: {', '.join(DEFENSES.names())})")
    try:
        return DEFENSES[name](**spec)
    except TypeError as exc:
        raise ConfigError(f"defense '{name}': {exc}") from None


def build_defenses(specs: str | list[Mapping[str, Any] | str]) -> list[Defense]:
    """A pipeline from a list of specs, or from one string with stages joined by ``+`` (``median+quantize``)."""
    if isinstance(specs, str):
        specs = [s for s in specs.split("+") if s and s != "none"]
    if not isinstance(specs, list):
        raise ConfigError(f"a defense pipeline must be a list of defenses, got {type(specs).__name__}")
    return [build_defense(s) for s in specs]


def parse_spec(text: str) -> dict[str, Any]:
    """``"lowpass:cutoff_hz=3000,taps=63"`` → ``{"name": "lowpass", "cutoff_hz": 3000, "taps": 63}``.

    The same ``name:key=value,...`` syntax names attacks on the command line (``pgd:eps=0.05,k_percent=5``).
    """
    name, _, args = text.strip().partition(":")
    spec: dict[str, Any] = {"name": name}
    for pair in filter(None, args.split(",")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"'{text}': expected name:key=value,..., got '{pair}'")
        spec[key.strip()] = _value(value.strip())
        if isinstance(spec[key.strip()], float) and not math.isfinite(spec[key.strip()]):
            raise ConfigError(f"'{text}': {key.strip()} must be a finite number, got '{value.strip()}'")
    return spec


def _value(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
