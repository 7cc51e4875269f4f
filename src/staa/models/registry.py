"""Model registry: build a model by name, load any checkpoint folder by its recorded ``model_type``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from staa.errors import CheckpointError, ConfigError
from staa.models.base import SERModel, read_config
from staa.models.emo18 import Emo18
from staa.models.zhao19 import Zhao19

MODELS: dict[str, type[SERModel]] = {"emo18": Emo18, "zhao19": Zhao19}


def register(cls: type[SERModel]) -> type[SERModel]:
    """Class decorator that makes a model reachable by its config's ``model_type``."""
    MODELS[cls.config_class.model_type] = cls
    return cls


def build_model(name: str, **config: Any) -> SERModel:
    """A freshly initialised model: ``build_model("emo18", num_classes=4)``."""
    _ensure_foundation()
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}' (available: {', '.join(sorted(MODELS))})")
    cls = MODELS[name]
    return cls(cls.config_class.from_dict(config))


def load_model(directory: str | Path, expected: str | None = None) -> SERModel:
    """Load a checkpoint folder written by ``save_pretrained``, whatever its model type."""
    _ensure_foundation()
    model_type = read_config(directory).get("model_type")
    if expected is not None and model_type != expected:
        raise CheckpointError(f"checkpoint is a '{model_type}' model, expected '{expected}'", directory)
    if model_type not in MODELS:
        raise CheckpointError(f"unknown model_type '{model_type}' in config.json", directory)
    return MODELS[model_type].from_pretrained(directory)


def _ensure_foundation() -> None:
    """Register wav2vec2, wavlm, hubert and defended models on first use.

    Importing transformers takes seconds, so ``import staa`` does not; it is a core dependency, so a
    failing import is a real error. ``staa.defenses`` imports the models package, hence the late import.
    """
    import staa.defenses  # noqa: F401  (registers "defended")
    import staa.models.foundation  # noqa: F401
