"""Defences against (sparse) adversarial audio, composable in front of any SER model.

Importing this package registers the ``defended`` model type, so :func:`staa.models.load_model` reads
defended checkpoints.
"""

from staa.defenses.base import Defence, straight_through
from staa.defenses.defended import Defended, DefendedConfig
from staa.defenses.lowpass import DownUpSample, LowPass
from staa.defenses.median import MedianFilter
from staa.defenses.noise import GaussianNoise
from staa.defenses.quantization import Quantization
from staa.defenses.registry import DEFENCES, build_defence, build_defences, parse_spec

__all__ = [
    "DEFENCES",
    "Defence",
    "Defended",
    "DefendedConfig",
    "DownUpSample",
    "GaussianNoise",
    "LowPass",
    "MedianFilter",
    "Quantization",
    "build_defence",
    "build_defences",
    "parse_spec",
    "straight_through",
]
