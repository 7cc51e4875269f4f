"""Defenses against (sparse) adversarial audio, composable in front of any SER model.

A pipeline of defenses in front of a victim is :class:`Defended`, itself an SER model (model type
``defended`` in :mod:`staa.models.registry`); robust accuracy is measured by :mod:`staa.evaluation.robustness`.
"""

from staa.defenses.base import Defense, straight_through
from staa.defenses.defended import Defended, DefendedConfig
from staa.defenses.lowpass import DownUpSample, LowPass
from staa.defenses.median import MedianFilter
from staa.defenses.noise import GaussianNoise
from staa.defenses.quantization import Quantization
from staa.defenses.registry import DEFENSES, build_defense, build_defenses, parse_spec

__all__ = [
    "DEFENSES",
    "Defense",
    "Defended",
    "DefendedConfig",
    "DownUpSample",
    "GaussianNoise",
    "LowPass",
    "MedianFilter",
    "Quantization",
    "build_defense",
    "build_defenses",
    "parse_spec",
    "straight_through",
]
