"""SER models on raw audio: every model maps (B, N) waveforms in [-1, 1] to (B, C) logits."""

from staa.models.base import SERConfig, SERModel, standardize
from staa.models.emo18 import Emo18, Emo18Config
from staa.models.registry import MODELS, build_model, load_model, model_class
from staa.models.zhao19 import Zhao19, Zhao19Config

__all__ = [
    "MODELS",
    "Emo18",
    "Emo18Config",
    "SERConfig",
    "SERModel",
    "Zhao19",
    "Zhao19Config",
    "build_model",
    "load_model",
    "model_class",
    "standardize",
]
