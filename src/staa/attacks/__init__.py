"""Attacks: one base class (:class:`Attack`), one module per attack; STAA-Net lives in ``staa.attacks.staa``."""

from staa.attacks.base import Attack, AttackResult, frozen, margin_loss
from staa.attacks.fmn import FMNL0
from staa.attacks.onepixel import OnePixel
from staa.attacks.pgd import SparsePGD
from staa.attacks.pgd0 import PGD0
from staa.attacks.sigma_zero import SigmaZero
from staa.attacks.sparse_rs import SparseRS
from staa.attacks.sparsefool import SparseFool
from staa.attacks.universal import UniversalPerturbation
from staa.attacks.zero import ZeroPerturbation

__all__ = [
    "Attack",
    "AttackResult",
    "FMNL0",
    "OnePixel",
    "PGD0",
    "SigmaZero",
    "SparseFool",
    "SparsePGD",
    "SparseRS",
    "UniversalPerturbation",
    "ZeroPerturbation",
    "frozen",
    "margin_loss",
]
