"""Attack registry: experiment files and the CLI name attacks; classes are imported on first use."""

from __future__ import annotations

import importlib
from typing import Any

from torch import nn

from staa.attacks.base import Attack
from staa.errors import ConfigError

ATTACKS: dict[str, str] = {
    "pgd": "staa.attacks.pgd:SparsePGD",
    "pgd0": "staa.attacks.pgd0:PGD0",
    "sparse_rs": "staa.attacks.sparse_rs:SparseRS",
    "sigma_zero": "staa.attacks.sigma_zero:SigmaZero",
    "fmn": "staa.attacks.fmn:FMNL0",
    "sparsefool": "staa.attacks.sparsefool:SparseFool",
    "onepixel": "staa.attacks.onepixel:OnePixel",
    "staa": "staa.attacks.staa.attack:STAANet",
    "zero": "staa.attacks.zero:ZeroPerturbation",
    "universal": "staa.attacks.universal:UniversalPerturbation",
}


def attack_class(name: str) -> type[Attack]:
    if name not in ATTACKS:
        raise ConfigError(f"unknown attack '{name}' (available: {', '.join(sorted(ATTACKS))})")
    module, cls = ATTACKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def build_attack(name: str, model: nn.Module, **kwargs: Any) -> Attack:
    """``build_attack("pgd", model, eps=0.05, k_percent=10)``."""
    return attack_class(name)(model, **kwargs)
