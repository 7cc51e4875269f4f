"""Model registry: build a model by name, load any checkpoint folder by its recorded ``model_type``.

Like the attack registry, names map to ``module:Class`` and classes are imported on first use:
``import staa.models`` stays light (``transformers`` loads only for wav2vec2, WavLM and HuBERT), and the
registry imports neither the foundation models nor :mod:`staa.defenses`, whose defended model itself
loads its victim through :func:`load_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from staa.errors import CheckpointError
from staa.models.base import SERModel, read_config
from staa.registry import Registry

MODELS = Registry(
    "model",
    {
        "emo18": "staa.models.emo18:Emo18",
        "zhao19": "staa.models.zhao19:Zhao19",
        "wav2vec2": "staa.models.foundation:Wav2Vec2SER",
        "wavlm": "staa.models.foundation:WavLMSER",
        "hubert": "staa.models.foundation:HubertSER",
        "defended": "staa.defenses.defended:Defended",
    },
)


def model_class(name: str) -> type[SERModel]:
    """The class registered under ``name`` (a model name or a checkpoint's ``model_type``)."""
    return MODELS.get(name)


def build_model(name: str, **config: Any) -> SERModel:
    """A freshly initialised model: ``build_model("emo18", num_classes=4)``."""
    cls = model_class(name)
    return cls(cls.config_class.from_dict(config))


def load_model(directory: str | Path, expected: str | None = None) -> SERModel:
    """Load a checkpoint folder written by ``save_pretrained``, whatever its model type."""
    model_type = read_config(directory).get("model_type")
    if expected is not None and model_type != expected:
        raise CheckpointError(f"checkpoint is a '{model_type}' model, expected '{expected}'", directory)
    if model_type not in MODELS:
        raise CheckpointError(f"unknown model_type '{model_type}' in config.json", directory)
    return model_class(model_type).from_pretrained(directory)
