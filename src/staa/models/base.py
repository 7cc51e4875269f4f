"""The common SER model interface: raw waveforms (B, N) in [-1, 1] → logits (B, C).

Per-utterance standardisation happens *inside* the model, so that training, clean evaluation and
every attack see exactly the same function of the raw waveform (the authors normalised outside the
model, and their One-Pixel attacker then optimised against a different function than the one
evaluated). Checkpoints follow ``transformers``: a folder with ``config.json`` and
``model.safetensors``, written by :meth:`SERModel.save_pretrained` and read by
:func:`staa.models.load_model` / :meth:`SERModel.from_pretrained`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from staa.errors import AudioError, CheckpointError
from staa.weights import CONFIG_NAME, WEIGHTS_NAME, load_weights, read_config, save_folder

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "SERConfig", "SERModel", "read_config", "standardize"]


@dataclass
class SERConfig:
    """Fields every SER model shares; subclasses add their architecture's own."""

    model_type: ClassVar[str] = "ser"
    num_classes: int = 7
    class_names: list[str] = field(default_factory=list)
    sample_rate: int = 16_000

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": self.model_type, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SERConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def standardize(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Zero-mean, unit-variance per row; a silent row stays zero instead of becoming NaN."""
    x = x - x.mean(dim=-1, keepdim=True)
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)


class SERModel(nn.Module):
    """Base class: subclasses implement :meth:`classify` on standardised waveforms."""

    config_class: ClassVar[type[SERConfig]] = SERConfig
    # Shortest input the architecture accepts (its pooling chain must leave one frame); a shorter clip
    # is refused with a one-line error instead of a pooling traceback. Corpora never hit it: their
    # clips are tiled up to the corpus length first.
    min_samples: ClassVar[int] = 1
    # True for models that fine-tune a pretrained encoder: the paper trains them on another schedule
    # (20 epochs at lr 3e-5 instead of 30 at 1e-3; staa.training.ser.TrainConfig.paper).
    fine_tunes_pretrained: ClassVar[bool] = False

    def __init__(self, config: SERConfig) -> None:
        super().__init__()
        self.config = config

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def forward(self, waveform: Tensor) -> Tensor:
        if waveform.dim() != 2:
            raise ValueError(f"expected a (batch, samples) waveform, got shape {tuple(waveform.shape)}")
        if waveform.shape[-1] < self.min_samples:
            raise AudioError(
                f"{type(self).__name__} needs clips of at least {self.min_samples} samples, got {waveform.shape[-1]}"
            )
        return self.classify(standardize(waveform))

    def classify(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def predict(self, waveform: Tensor, batch_size: int = 32) -> Tensor:
        """Arg-max class of each row, in eval mode without gradients, batched to bound memory."""
        was_training = self.training
        self.eval()
        with torch.no_grad():
            out = torch.cat([self(waveform[i : i + batch_size]).argmax(-1) for i in range(0, len(waveform), batch_size)])
        self.train(was_training)
        return out

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # ---- checkpoints -----------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (atomically) into ``directory``."""
        return save_folder(self, self.config.to_dict(), directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path, **overrides: Any) -> SERModel:
        """Load a checkpoint folder; refuses one written for another model type or class count."""
        config_dict = read_config(directory)
        if config_dict.get("model_type") != cls.config_class.model_type:
            raise CheckpointError(
                f"checkpoint is a '{config_dict.get('model_type')}' model, not '{cls.config_class.model_type}'",
                directory,
            )
        config = cls.config_class.from_dict({**config_dict, **overrides})
        model = cls(config)
        model.load_weights(Path(directory) / WEIGHTS_NAME)
        return model

    def load_weights(self, path: str | Path) -> None:
        """Load safetensors weights strictly, with a one-line error for any mismatch."""
        load_weights(self, path)
