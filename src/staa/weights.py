"""Checkpoint folders shared by SER models and generators: ``config.json`` + ``model.safetensors``.

Weights are only ever read from safetensors, so a checkpoint cannot execute code; a mismatch between the
weights and the architecture named by the config is one clear line instead of a state-dict traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file
from torch import nn

from staa.errors import CheckpointError
from staa.outputs import atomic_path, write_json

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def save_folder(module: nn.Module, config: dict[str, Any], directory: str | Path) -> Path:
    """Write ``config`` (which names its ``model_type``) and the module's weights, each atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"model_type": str(config.get("model_type"))})
    write_json(directory / CONFIG_NAME, config)
    return directory


def read_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG_NAME
    if not path.exists():
        raise CheckpointError(f"no {CONFIG_NAME} in checkpoint folder", directory)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{CONFIG_NAME} is not valid JSON ({exc.msg})", path) from None


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load safetensors weights strictly into ``module``, with a one-line error for any mismatch."""
    path = Path(path)
    name = type(module).__name__
    if not path.exists():
        raise CheckpointError("weights file not found", path)
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for corrupt/foreign files
        raise CheckpointError(f"not a safetensors file ({str(exc).splitlines()[0]})", path) from None
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"weights do not match {name}: missing {missing[:3]}, unexpected {unexpected[:3]}", path
        )
    for k, v in state.items():
        if own[k].shape != v.shape:
            raise CheckpointError(
                f"weights do not match {name}: '{k}' has shape {tuple(v.shape)}, "
                f"expected {tuple(own[k].shape)} (another class count or architecture?)",
                path,
            )
    module.load_state_dict(state)
