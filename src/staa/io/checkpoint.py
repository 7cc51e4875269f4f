"""Resumable training state: weights, optimiser, scheduler, epoch and RNG states in one file.

The file is written atomically with ``torch.save`` and read back with ``torch.load(weights_only=True)``,
which refuses arbitrary pickled objects, so a tampered resume file cannot execute code. Final model
weights are never stored this way: they go to safetensors through ``save_pretrained``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from staa.errors import CheckpointError, first_line
from staa.io.outputs import atomic_path


def save_state(path: str | Path, **state: Any) -> None:
    """Write ``state`` plus the torch, NumPy and Python RNG states (as tensors, loadable weights-only)."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, mt, gauss_next = random.getstate()
    state["rng"] = {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(keys.astype(np.int64)),
        "numpy_pos": torch.tensor([pos, has_gauss], dtype=torch.int64),
        "numpy_gauss": torch.tensor(gauss, dtype=torch.float64),
        "python": torch.tensor(mt, dtype=torch.int64),
        "python_gauss": torch.tensor([] if gauss_next is None else [gauss_next], dtype=torch.float64),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(
    path: str | Path, required: Mapping[str, type | tuple[type, ...]] | None = None
) -> dict[str, Any] | None:
    """The saved state, or None when there is none; RNG states are restored as a side effect.

    ``required`` maps the keys the caller reads to their types: a state without one, or with another type
    (an edited or foreign file), is refused in one line naming the file, as is an RNG state that cannot be
    restored; nothing is restored from a refused state.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # damaged files surface as Unpickling/EOF/Runtime/Value/OSError alike
        raise CheckpointError(f"refused to load resume state ({first_line(exc)})", path) from None
    if not isinstance(state, dict):
        raise CheckpointError("not a resume state (expected a dictionary)", path)
    for key, kind in (required or {}).items():
        if key not in state:
            raise CheckpointError(f"not a resume state of this run (no '{key}')", path)
        if not isinstance(state[key], kind) or isinstance(state[key], bool) and kind in (int, float, (int, float)):
            raise CheckpointError(
                f"resume state's '{key}' is a {type(state[key]).__name__}, not what this run wrote", path
            )
    rng = state.pop("rng", None)
    if rng is not None:
        _restore_rng(rng, path)
    return state


def _restore_rng(rng: Any, path: Path) -> None:
    """Set the torch, NumPy and Python generators from a saved RNG state, checked whole before any is set."""
    try:
        torch_state = rng["torch"]
        if not isinstance(torch_state, torch.Tensor) or torch_state.dtype != torch.uint8:
            raise TypeError("torch state is not a byte tensor")
        pos, has_gauss = (int(v) for v in rng["numpy_pos"].tolist())
        keys = rng["numpy"].numpy().astype(np.uint32)
        numpy_state = ("MT19937", keys, pos, has_gauss, float(rng["numpy_gauss"]))
        gauss_next = rng["python_gauss"].tolist()
        python_state = (3, tuple(int(v) for v in rng["python"].tolist()), gauss_next[0] if gauss_next else None)
        np.random.RandomState().set_state(numpy_state)  # each checked on a throwaway generator first
        random.Random().setstate(python_state)
        torch.Generator().set_state(torch_state)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        raise CheckpointError(f"resume state's RNG state is damaged ({first_line(exc)}); delete the file to start over",
                              path) from None  # fmt: skip
    torch.set_rng_state(torch_state)
    np.random.set_state(numpy_state)
    random.setstate(python_state)
