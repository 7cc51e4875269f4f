"""Self-supervised speech encoders (wav2vec 2.0, WavLM, HuBERT) with the paper's two-linear SER head.

The head is what ``*ForSequenceClassification`` in ``transformers`` builds and the authors trained:
Linear(hidden → ``proj_size``) on every frame → mean over frames → Linear(``proj_size`` → classes), with
no activation between the two layers. The convolutional feature encoder is frozen (the paper's
setting); the feature projection, the transformer and the head are trained.

Two ways a model comes to life, and only the first may touch the Hugging Face hub:

* ``build_model("wavlm", pretrained=DIR_OR_HUB_ID)`` loads the encoder's pre-trained weights with the
  family's own model class (never ``trust_remote_code``; ``local_files_only`` for a folder) and copies
  the encoder's full config into :attr:`FoundationConfig.encoder`;
* ``load_model(CHECKPOINT)`` rebuilds the encoder from that recorded config and then reads every weight
  from the checkpoint's ``model.safetensors``, so a saved SER model loads offline, without the hub.

Waveform normalisation: these encoders were pre-trained on inputs that their feature extractor scaled
to zero mean and unit variance per utterance (``do_normalize``, population variance, ε = 1e-7), which
is what :func:`staa.models.base.standardize` does (ε = 1e-8) inside every :class:`SERModel`. Some
checkpoints (e.g. several HuBERT/WavLM ones) were pre-trained on raw amplitude and ship
``do_normalize: false``; :attr:`FoundationConfig.normalize` records that choice so such a model sees
the input it was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor, nn
from transformers import (
    HubertConfig,
    HubertModel,
    PretrainedConfig,
    PreTrainedModel,
    Wav2Vec2Config,
    Wav2Vec2Model,
    WavLMConfig,
    WavLMModel,
)
from transformers.utils import cached_file

from staa.errors import CheckpointError, ConfigError
from staa.models.base import SERConfig, SERModel
from staa.validation import number

PREPROCESSOR_NAME = "preprocessor_config.json"
# Weights a pre-trained encoder may lack without harm: the SpecAugment mask embedding is only used in
# training, and checkpoints saved without masking do not store it.
OPTIONAL_ENCODER_WEIGHTS = ("masked_spec_embed",)


@dataclass
class FoundationConfig(SERConfig):
    """What rebuilds a foundation SER model: encoder source and config, head size, training choices.

    ``normalize`` is None until the model is built, then True/False as read from the pre-trained
    folder's ``preprocessor_config.json`` (``do_normalize``; True when the file is absent).
    """

    model_type = "foundation"
    pretrained: str | None = None
    encoder: dict[str, Any] = field(default_factory=dict)
    proj_size: int = 256
    freeze_feature_encoder: bool = True
    normalize: bool | None = None

    def check_recorded(self) -> None:
        """A saved model rebuilds its encoder from ``encoder`` alone: never from the hub, never absurdly large."""
        super().check_recorded()
        number("proj_size", self.proj_size, integer=True, low=1, high=65_536)
        if not self.encoder:
            raise ConfigError("'encoder' is empty: a saved model must record its encoder's config")
        for key, high in (("num_hidden_layers", 256), ("hidden_size", 65_536), ("intermediate_size", 262_144)):
            if key in self.encoder:
                number(f"encoder.{key}", self.encoder[key], integer=True, low=1, high=high)


class FoundationSER(SERModel):
    """Shared implementation; each family subclass names its ``transformers`` config and model class."""

    config_class: ClassVar[type[FoundationConfig]] = FoundationConfig
    encoder_config_class: ClassVar[type[PretrainedConfig]]
    encoder_class: ClassVar[type[PreTrainedModel]]
    fine_tunes_pretrained: ClassVar[bool] = True
    output_layer: ClassVar[str] = "classifier"

    def __init__(self, config: FoundationConfig) -> None:
        super().__init__(config)
        if config.encoder:
            self.encoder = self.encoder_class(self.encoder_config_class.from_dict(config.encoder))
        elif config.pretrained:
            self.encoder = self._load_pretrained(config.pretrained)
            config.encoder = json.loads(self.encoder.config.to_json_string(use_diff=False))
        else:
            raise ConfigError(
                f"model '{config.model_type}' needs a pre-trained encoder: "
                "pass pretrained=<folder or hub id> (--pretrained)"
            )
        if config.normalize is None:
            config.normalize = _do_normalize(config.pretrained)
        if config.freeze_feature_encoder:
            # every family's conv front end; also stops it asking autograd for input gradients in training
            self.encoder.feature_extractor._freeze_parameters()
        hidden = self.encoder.config.hidden_size
        self.projector = nn.Linear(hidden, config.proj_size)
        self.classifier = nn.Linear(config.proj_size, config.num_classes)

    def _load_pretrained(self, source: str) -> PreTrainedModel:
        """The family's encoder with pre-trained weights; refuses other families and partial weights."""
        local = Path(source).is_dir()
        family = self.config_class.model_type
        try:
            if local:
                _refuse_staa_checkpoint(Path(source))
            found = PretrainedConfig.get_config_dict(source, local_files_only=local)[0].get("model_type")
            if found != family:
                raise CheckpointError(f"holds a '{found}' encoder, not '{family}'", source)
            encoder, info = self.encoder_class.from_pretrained(source, local_files_only=local, output_loading_info=True)
        except (OSError, ValueError) as exc:  # not found / offline / not a valid hub id
            raise CheckpointError(f"cannot load a '{family}' encoder ({_first_line(exc)})", source) from None
        missing = [k for k in info["missing_keys"] if not k.endswith(OPTIONAL_ENCODER_WEIGHTS)]
        if missing:
            raise CheckpointError(f"pre-trained encoder lacks weights {missing[:3]}", source)
        return encoder

    def forward(self, waveform: Tensor) -> Tensor:
        """Standardise each row (unless the encoder was pre-trained on raw amplitude), then classify."""
        if self.config.normalize:
            return super().forward(waveform)
        if waveform.dim() != 2:
            raise ValueError(f"expected a (batch, samples) waveform, got shape {tuple(waveform.shape)}")
        return self.classify(waveform)

    def classify(self, x: Tensor) -> Tensor:
        frames = self.encoder(x).last_hidden_state  # (B, T', hidden)
        return self.classifier(self.projector(frames).mean(dim=1))


def _refuse_staa_checkpoint(folder: Path) -> None:
    """A staa checkpoint's config.json also says e.g. 'wav2vec2'; loading it as an encoder would be garbage."""
    config_path = folder / "config.json"
    if config_path.exists():
        try:
            keys = json.loads(config_path.read_text()).keys()
        except json.JSONDecodeError:
            return  # transformers reports the broken file itself
        if {"encoder", "proj_size", "num_classes"} <= set(keys):
            raise CheckpointError(
                "is a staa SER checkpoint, not a pre-trained encoder (load it with load_model)", folder
            )


def _do_normalize(pretrained: str | None) -> bool:
    """``do_normalize`` from the pre-trained preprocessor config; True (the common case) without one."""
    if not pretrained:
        return True
    if Path(pretrained).is_dir():
        path = Path(pretrained) / PREPROCESSOR_NAME
        resolved = str(path) if path.exists() else None
    else:
        resolved = cached_file(pretrained, PREPROCESSOR_NAME, _raise_exceptions_for_missing_entries=False)
    if resolved is None:
        return True
    try:
        return bool(json.loads(Path(resolved).read_text()).get("do_normalize", True))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{PREPROCESSOR_NAME} is not valid JSON ({exc.msg})", resolved) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class Wav2Vec2SERConfig(FoundationConfig):
    model_type = "wav2vec2"


@dataclass
class WavLMSERConfig(FoundationConfig):
    model_type = "wavlm"


@dataclass
class HubertSERConfig(FoundationConfig):
    model_type = "hubert"


class Wav2Vec2SER(FoundationSER):
    """wav2vec 2.0 (Baevski et al., 2020); the paper fine-tuned ``facebook/wav2vec2-base-960h``."""

    config_class = Wav2Vec2SERConfig
    encoder_config_class = Wav2Vec2Config
    encoder_class = Wav2Vec2Model


class WavLMSER(FoundationSER):
    """WavLM (Chen et al., 2022); the paper fine-tuned ``microsoft/wavlm-base``."""

    config_class = WavLMSERConfig
    encoder_config_class = WavLMConfig
    encoder_class = WavLMModel


class HubertSER(FoundationSER):
    """HuBERT (Hsu et al., 2021); in the authors' DEMoS registry (``facebook/hubert-base-ls960``)."""

    config_class = HubertSERConfig
    encoder_config_class = HubertConfig
    encoder_class = HubertModel
