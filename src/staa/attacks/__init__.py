"""Attacks: one base class (:class:`Attack`), one module per attack; STAA-Net lives in ``staa.attacks.staa``."""

from staa.attacks.base import Attack, AttackResult, frozen, margin_loss
from staa.attacks.onepixel import OnePixel
from staa.attacks.pgd import SparsePGD
from staa.attacks.sparsefool import SparseFool
from staa.attacks.universal import UniversalPerturbation
from staa.attacks.zero import ZeroPerturbation

__all__ = [
    "Attack",
    "AttackResult",
    "OnePixel",
    "SparseFool",
    "SparsePGD",
    "UniversalPerturbation",
    "ZeroPerturbation",
    "frozen",
    "margin_loss",
]
