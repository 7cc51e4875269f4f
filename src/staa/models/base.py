"""The common SER model interface: raw waveforms (B, N) in [-1, 1] → logits (B, C).

Per-utterance standardisation happens *inside* the model, so that training, clean evaluation and
every attack see exactly the same function of the raw waveform (the authors normalised outside the
model, and their One-Pixel attacker then optimised against a different function than the one
evaluated). Checkpoints follow ``transformers``: a folder with ``config.json`` and
``model.safetensors``, written by :meth:`SERModel.save_pretrained` and read by
:func:`staa.models.load_model` / :meth:`SERModel.from_pretrained`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from staa.errors import AudioError, CheckpointError, ConfigError, DataError
from staa.io.weights import CONFIG_NAME, WEIGHTS_NAME, check_checkpoint, load_weights, read_config, save_folder
from staa.validation import number

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "SERConfig", "SERModel", "read_config", "standardize"]


@dataclass
class SERConfig:
    """Fields every SER model shares; subclasses add their architecture's own."""

    model_type: ClassVar[str] = "ser"
    num_classes: int = 7
    class_names: list[str] = field(default_factory=list)
    sample_rate: int = 16_000

    def check_recorded(self) -> None:
        """Ranges a checkpoint's ``config.json`` could get wrong (its types are checked before)."""
        number("num_classes", self.num_classes, integer=True, low=2, high=10_000)
        number("sample_rate", self.sample_rate, integer=True, low=1, high=768_000)
        names = self.class_names
        if names and len(names) != self.num_classes:
            raise ConfigError(f"class_names lists {len(names)} classes, num_classes is {self.num_classes}")
        if len(set(names)) != len(names) or not all(n.strip() for n in names):
            raise ConfigError(f"class_names must be distinct non-empty names, got {names}")

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
    # The state-dict prefix of the layer whose rows are the classes: a warm start
    # (staa.models.warm_start) copies these rows by class name, every other weight as it is.
    output_layer: ClassVar[str] = "head.linear"

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
            out = torch.cat(
                [self(waveform[i : i + batch_size]).argmax(-1) for i in range(0, len(waveform), batch_size)]
            )
        self.train(was_training)
        return out

    def check_fits(self, classes: Sequence[str] | None, sample_rate: int, where: str | Path | None = None,
                   length: int | None = None) -> None:  # fmt: skip
        """Refuse data this model does not know: its recorded class names, their order and its sample rate
        must be the data's, or one :class:`DataError` line (naming ``where``, the checkpoint) says what differs.
        ``classes = None`` (audio files without labels) checks the rate alone; ``length`` (the data's
        clip length in samples) must reach :attr:`min_samples`.

        A model that records no class names (built without them) is checked by count only; for a checkpoint
        (``where`` given) a warning says that its order cannot be verified.
        """
        rate = self.config.sample_rate
        if rate != sample_rate:
            raise DataError(f"the model expects {rate} Hz audio, the data is {sample_rate} Hz", where)
        if length is not None and length < self.min_samples:
            raise DataError(f"clips of {length} samples are shorter than the {self.min_samples} that "
                            f"{type(self).__name__} needs: unify them to a longer length (--seconds)", where)  # fmt: skip
        if classes is None:
            return
        names, classes = list(self.config.class_names), list(classes)
        if not names:
            if self.num_classes != len(classes):
                raise DataError(f"the model has {self.num_classes} classes, the data {len(classes)} "
                                f"({', '.join(classes)})", where)  # fmt: skip
            if where is not None:
                warnings.warn(f"{where}: the checkpoint records no class names; assuming the data's order "
                              f"({', '.join(classes)})", stacklevel=2)  # fmt: skip
        elif names != classes:
            if sorted(names) == sorted(classes):
                raise DataError(f"class order differs: the model has {', '.join(names)}; the data "
                                f"{', '.join(classes)}", where)  # fmt: skip
            only_model = [n for n in names if n not in classes] or ["none"]
            only_data = [c for c in classes if c not in names] or ["none"]
            raise DataError(f"classes differ: only the model has {', '.join(only_model)}; only the data has "
                            f"{', '.join(only_data)}", where)  # fmt: skip

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
        model = cls(check_checkpoint(directory, cls.config_class, cls, overrides))
        model.load_weights(Path(directory) / WEIGHTS_NAME)
        return model

    def load_weights(self, path: str | Path) -> None:
        """Load safetensors weights strictly, with a one-line error for any mismatch."""
        load_weights(self, path)
