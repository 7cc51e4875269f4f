"""Resumable training state: weights, optimiser, scheduler, epoch and RNG states in one file.

The file is written atomically with ``torch.save`` and read back with ``torch.load(weights_only=True)``,
which refuses arbitrary pickled objects, so a tampered resume file cannot execute code. Final model
weights are never stored this way: they go to safetensors through ``save_pretrained``.
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from staa.errors import CheckpointError
from staa.outputs import atomic_path


def save_state(path: str | Path, **state: Any) -> None:
    state["rng"] = {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
        "python": torch.tensor(random.getstate()[1], dtype=torch.int64),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: str | Path) -> dict[str, Any] | None:
    """The saved state, or None when there is none; RNG states are restored as a side effect."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointError(f"refused to load resume state ({str(exc).splitlines()[0][:120]})", path) from None
    rng = state.pop("rng", None)
    if rng is not None:
        torch.set_rng_state(rng["torch"])
        np.random.set_state(("MT19937", rng["numpy"].numpy().astype(np.uint32), 624, 0, 0.0))
        random.setstate((3, tuple(int(v) for v in rng["python"].tolist()), None))
    return state
