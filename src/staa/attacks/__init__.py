"""Attacks: one base class (:class:`Attack`) and its kinds, one module per attack; STAA-Net lives in ``staa.attacks.staa``.

The names are imported on first use (``staa.attacks.SparsePGD``), so naming attacks (the registry, the
command line's help) loads no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

EXPORTS = {
    "Attack": "staa.attacks.base",
    "AttackResult": "staa.attacks.base",
    "BudgetedAttack": "staa.attacks.base",
    "FittedAttack": "staa.attacks.base",
    "MinimizationAttack": "staa.attacks.base",
    "frozen": "staa.attacks.base",
    "margin_loss": "staa.attacks.base",
    "FMNL0": "staa.attacks.fmn",
    "OnePixel": "staa.attacks.onepixel",
    "SparsePGD": "staa.attacks.pgd",
    "PGD0": "staa.attacks.pgd0",
    "SigmaZero": "staa.attacks.sigma_zero",
    "SparseRS": "staa.attacks.sparse_rs",
    "SparseFool": "staa.attacks.sparsefool",
    "UniversalPerturbation": "staa.attacks.universal",
    "ZeroPerturbation": "staa.attacks.zero",
}

__all__ = sorted(EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in EXPORTS:
        raise AttributeError(f"module 'staa.attacks' has no attribute '{name}'")
    return getattr(importlib.import_module(EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *EXPORTS})
