"""Attack registry: experiment files and the CLI name attacks; classes are imported on first use.

Options are checked against the attack's constructor (:func:`attack_options`), so a setting the named
attack does not take is an error rather than silently ignored.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from torch import nn

from staa.attacks.base import Attack
from staa.errors import ConfigError
from staa.validation import check_arguments

ATTACKS: dict[str, str] = {
    "pgd": "staa.attacks.pgd:SparsePGD",
    "pgd0": "staa.attacks.pgd0:PGD0",
    "sparse_rs": "staa.attacks.sparse_rs:SparseRS",
    "sigma_zero": "staa.attacks.sigma_zero:SigmaZero",
    "fmn": "staa.attacks.fmn:FMNL0",
    "sparsefool": "staa.attacks.sparsefool:SparseFool",
    "onepixel": "staa.attacks.onepixel:OnePixel",
    "staa": "staa.attacks.staa.attack:STAANet",
    "staa_mask_control": "staa.attacks.staa.controls:MaskControl",
    "zero": "staa.attacks.zero:ZeroPerturbation",
    "universal": "staa.attacks.universal:UniversalPerturbation",
}
#: Built by the experiment itself (from another attacker's trained generator); never named by a user.
INTERNAL = frozenset({"staa_mask_control"})
PUBLIC_ATTACKS = tuple(name for name in ATTACKS if name not in INTERNAL)


def public_attack(name: Any, where: str = "attack") -> str:
    """``name`` if a user may name it (a registered attack that is not :data:`INTERNAL`); one error line else."""
    if name not in PUBLIC_ATTACKS:
        raise ConfigError(f"{where}: unknown attack {name!r} (available: {', '.join(PUBLIC_ATTACKS)})")
    return name


def attack_class(name: str) -> type[Attack]:
    if name not in ATTACKS:
        raise ConfigError(f"unknown attack '{name}' (available: {', '.join(PUBLIC_ATTACKS)})")
    module, cls = ATTACKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def build_attack(name: str, model: nn.Module, **kwargs: Any) -> Attack:
    """``build_attack("pgd", model, eps=0.05, k_percent=10)``; options of the wrong type are refused by name."""
    cls = attack_class(name)
    check_arguments(cls.__init__, kwargs)
    return cls(model, **kwargs)


def accepts(name: str, option: str) -> bool:
    """Whether attack ``name``'s constructor takes ``option`` (read from its signature)."""
    return option in inspect.signature(attack_class(name).__init__).parameters


def attack_options(name: str, **given: Any) -> dict[str, Any]:
    """The options given (None values dropped), each checked: one the attack does not take is an error.

    The attack must be one a user may name (:func:`public_attack`). STAA-Net is not built from options: it
    needs a trained generator (:class:`staa.attacks.staa.STAANet`).
    """
    public_attack(name)
    if name == "staa":
        raise ConfigError("STAA-Net attacks with a trained generator (STAANet; CLI: `staa generator apply`)")
    options = {k: v for k, v in given.items() if v is not None}
    for option in options:
        if not accepts(name, option):
            raise ConfigError(f"{name}: no option '{option}'")
    return options
