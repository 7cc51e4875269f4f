"""Checkpoint folders shared by SER models and generators: ``config.json`` + ``model.safetensors``.

Weights are only ever read from safetensors, so a checkpoint cannot execute code; a mismatch between the
weights and the architecture named by the config is one clear line instead of a state-dict traceback.
A config is checked before anything is built from it (:func:`check_checkpoint`): every value has its
field's type, and the network it describes is first built on the ``meta`` device (no memory) and compared
with the shapes in the weights file's header, so an absurd size in ``config.json`` is refused instead of
allocated.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from staa.errors import CheckpointError, ConfigError, first_line
from staa.io.outputs import atomic_path, write_json
from staa.validation import check_fields

C = TypeVar("C")

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
    """The JSON object in a checkpoint folder's ``config.json``; one line naming the folder or file otherwise."""
    directory = Path(directory)
    path = directory / CONFIG_NAME
    if not directory.exists():
        raise CheckpointError("checkpoint folder not found", directory)
    if not directory.is_dir():
        raise CheckpointError("not a checkpoint folder (a file; give the folder holding config.json)", directory)
    if not path.exists():
        raise CheckpointError(f"no {CONFIG_NAME} in checkpoint folder", directory)
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{CONFIG_NAME} is not valid JSON ({exc.msg})", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"cannot read {CONFIG_NAME} ({getattr(exc, 'strerror', None) or first_line(exc)})", path
        ) from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{CONFIG_NAME} must hold a JSON object, got {type(config).__name__}", path)
    return config


def check_checkpoint(directory: str | Path, config_class: type[C], build: Callable[[C], nn.Module],
                     overrides: dict[str, Any] | None = None) -> C:  # fmt: skip
    """The checked config of a checkpoint folder: types, ranges, and weights that fit what it describes.

    ``config_class.from_dict`` runs the class's own range checks; ``build(config)`` is run on the meta
    device and its tensor shapes compared with the weights file's header. Every problem is one
    :class:`CheckpointError` naming ``config.json`` (or the weights file) and the offending key.
    """
    path = Path(directory) / CONFIG_NAME
    raw = {**read_config(directory), **(overrides or {})}
    try:
        check_fields(config_class, raw)
        config = config_class.from_dict(raw)  # type: ignore[attr-defined]
        check = getattr(config, "check_recorded", None)
        if check is not None:
            check()
    except (ConfigError, TypeError, ValueError) as exc:
        raise CheckpointError(first_line(exc), path) from None
    try:
        with torch.device("meta"):
            skeleton = build(config)
    except Exception as exc:  # an untrusted config may break a constructor in any way
        raise CheckpointError(f"does not describe a buildable network ({first_line(exc)})", path) from None
    _compare_shapes(skeleton, Path(directory) / WEIGHTS_NAME)
    return config


def _compare_shapes(module: nn.Module, path: Path) -> None:
    """Refuse weights whose names or shapes (read from the header only) differ from ``module``'s."""
    _check_readable(path)
    try:
        with safe_open(str(path), "pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt/foreign files
        raise CheckpointError(f"not a safetensors file ({first_line(exc)})", path) from None
    _check_state(type(module).__name__, {k: tuple(v.shape) for k, v in module.state_dict().items()}, shapes, path)


def _check_state(name: str, own: dict[str, tuple], stored: dict[str, tuple], path: Path) -> None:
    missing = sorted(set(own) - set(stored))
    unexpected = sorted(set(stored) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"weights do not match {name}: missing {missing[:3]}, unexpected {unexpected[:3]}", path)
    for k, shape in stored.items():
        if own[k] != shape:
            raise CheckpointError(
                f"weights do not match {name}: '{k}' has shape {shape}, expected {own[k]} "
                "(another class count or architecture?)",
                path,
            )


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise CheckpointError("weights file not found", path)
    if not os.access(path, os.R_OK):
        raise CheckpointError("cannot read the weights file (permission denied)", path)


def fingerprint(module: nn.Module) -> str:
    """Short SHA-256 of a module's state (names, shapes and values): the identity a claimed folder records."""
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        t = value.detach().cpu().contiguous()
        h.update(f"{key}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, all finite; one line naming the file otherwise."""
    path = Path(path)
    _check_readable(path)
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for corrupt/foreign files
        raise CheckpointError(f"not a safetensors file ({first_line(exc)})", path) from None
    bad = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        raise CheckpointError(f"weights contain NaN or infinite values ('{bad}')", path)
    return state


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load safetensors weights strictly into ``module``, with a one-line error for any mismatch."""
    state = read_weights(path)
    own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    _check_state(type(module).__name__, own, {k: tuple(v.shape) for k, v in state.items()}, Path(path))
    module.load_state_dict(state)
