"""Start an SER model from another checkpoint's weights: pre-training on more speech, then fine-tuning.

Every weight is taken from the checkpoint, which must hold the same architecture (model type and layer
shapes), except the output layer (:attr:`SERModel.output_layer`), whose rows are the classes: a class
both name keeps its pre-trained row, a class only the model names keeps the model's fresh row. So a model
pre-trained on the union of several corpora's classes fine-tunes on one of them with every shared class
already in place, and one pre-trained on other classes still brings its encoder.
"""

from __future__ import annotations

from pathlib import Path

import torch

from staa.errors import CheckpointError
from staa.io.weights import WEIGHTS_NAME, read_config, read_weights
from staa.models.base import SERModel


def warm_start(model: SERModel, directory: str | Path) -> list[str]:
    """Copy the weights of the checkpoint folder ``directory`` into ``model``; returns the model's classes
    that start from fresh output rows (none when the class names are the same).

    A checkpoint of another model type, or whose layers differ in name or shape outside the output layer,
    is refused with one :class:`CheckpointError` line; ``model`` is left unchanged then.
    """
    config = read_config(directory)
    own_type = model.config.model_type
    if config.get("model_type") != own_type:
        raise CheckpointError(f"checkpoint is a '{config.get('model_type')}' model; cannot start a '{own_type}' "
                              "model from it", directory)  # fmt: skip
    path = Path(directory) / WEIGHTS_NAME
    theirs = read_weights(path)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    head = model.output_layer + "."
    for key, value in state.items():
        if key.startswith(head):
            continue
        if key not in theirs or tuple(theirs[key].shape) != tuple(value.shape):
            found = tuple(theirs[key].shape) if key in theirs else "missing"
            raise CheckpointError(f"weights do not match {type(model).__name__}: '{key}' is {found}, expected "
                                  f"{tuple(value.shape)} (another architecture?)", path)  # fmt: skip
        state[key] = theirs[key]
    fresh = _copy_output_rows(model, config.get("class_names") or [], theirs, state, path)
    model.load_state_dict(state)
    return fresh


def _copy_output_rows(
    model: SERModel, names: list, theirs: dict[str, torch.Tensor], state: dict[str, torch.Tensor], path: Path
) -> list[str]:
    """Put into ``state`` the checkpoint's output rows of the classes it shares with ``model``, by name.

    Without class names on either side the rows are matched by position, which needs the same class count.
    """
    own = list(model.config.class_names)
    if not own or not names:
        own = [str(i) for i in range(model.num_classes)]
        names = [str(i) for i in range(len(theirs.get(model.output_layer + ".bias", [])))]
    rows = {n: i for i, n in enumerate(names) if isinstance(n, str)}
    for key in [k for k in state if k.startswith(model.output_layer + ".")]:
        stored = theirs.get(key)
        if stored is None or stored.shape[0] != len(names) or tuple(stored.shape[1:]) != tuple(state[key].shape[1:]):
            raise CheckpointError(f"output layer '{key}' does not match {type(model).__name__} with the "
                                  f"checkpoint's {len(names)} classes", path)  # fmt: skip
        for i, name in enumerate(own):
            if name in rows:
                state[key][i] = stored[rows[name]]
    return [n for n in own if n not in rows]
