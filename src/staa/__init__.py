"""staa: sparse and transferable adversarial attacks on speech emotion recognition.

The public API, imported on first use (``import staa`` alone loads no torch)::

    import staa

    model = staa.load_model("runs/demo/models/emo18/best")     # an SER checkpoint folder
    x = staa.load_clip("clip.wav")                              # (1, N) float tensor at 16 kHz
    result = staa.SparsePGD(model, eps=0.05, k_percent=10)(x)   # AttackResult: x_adv, delta, success, ...

Models (``load_model``), audio (``load_clip``, ``load_audio``), every attack (the baselines, the
state of the art, ``UniversalPerturbation``, ``ZeroPerturbation`` and STAA-Net's ``STAANet`` with its
``Generator`` and ``GeneratorConfig``), ``AttackResult`` and the metrics (``attack_success_rate``,
``snr_db``, ``sparsity``, ``uar``).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "staa.models.registry",
    "load_clip": "staa.audio",
    "load_audio": "staa.audio",
    "Attack": "staa.attacks.base",
    "AttackResult": "staa.attacks.base",
    "SparsePGD": "staa.attacks.pgd",
    "PGD0": "staa.attacks.pgd0",
    "SparseRS": "staa.attacks.sparse_rs",
    "SigmaZero": "staa.attacks.sigma_zero",
    "FMNL0": "staa.attacks.fmn",
    "SparseFool": "staa.attacks.sparsefool",
    "OnePixel": "staa.attacks.onepixel",
    "UniversalPerturbation": "staa.attacks.universal",
    "ZeroPerturbation": "staa.attacks.zero",
    "STAANet": "staa.attacks.staa.attack",
    "Generator": "staa.attacks.staa.generator",
    "GeneratorConfig": "staa.attacks.staa.config",
    "attack_success_rate": "staa.metrics",
    "snr_db": "staa.metrics",
    "sparsity": "staa.metrics",
    "uar": "staa.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'staa' has no attribute '{name}'")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # found once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
