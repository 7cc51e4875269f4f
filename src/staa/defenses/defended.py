"""A defended SER model: defenses in front of a victim, itself a :class:`~staa.models.SERModel`.

Because ``Defended`` honours the model contract (raw (B, N) waveform → logits), every attack, the
evaluator and the transfer matrix run on it unchanged. Two threat models are made explicit:

* **adaptive** (``adaptive=True``): the attacker knows the defense and differentiates through it —
  exactly where the defense is smooth, BPDA where it is a step, and averaged over ``eot_samples`` draws
  (EOT) where it is random. ``threat_model`` is the defended model itself.
* **non-adaptive** (``adaptive=False``): the attacker only sees the bare victim (``threat_model`` is the
  undefended model) and the examples it crafts are then scored on the defended one.

The checkpoint folder holds ``config.json`` (the defense pipeline and flags) and the victim's own
checkpoint in ``victim/``; :func:`staa.models.load_model` reads it like any other checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from staa.defenses.base import Defense
from staa.defenses.registry import build_defenses
from staa.errors import CheckpointError, ConfigError, first_line
from staa.io.outputs import write_json
from staa.models.base import CONFIG_NAME, SERConfig, SERModel, read_config
from staa.models.registry import load_model
from staa.validation import check_fields, number

VICTIM_DIR = "victim"


@dataclass
class DefendedConfig(SERConfig):
    model_type = "defended"
    defences: list[dict[str, Any]] = field(default_factory=list)  # spelled as in stored config.json files
    adaptive: bool = True
    eot_samples: int = 1

    def check_recorded(self) -> None:
        super().check_recorded()
        number("eot_samples", self.eot_samples, integer=True, low=1, high=1000)


class Defended(SERModel):
    config_class = DefendedConfig

    def __init__(
        self, model: SERModel, defenses: Sequence[Defense] = (), *, adaptive: bool = True, eot_samples: int = 1
    ) -> None:
        if eot_samples < 1:
            raise ConfigError(f"defended: eot_samples must be >= 1, got {eot_samples}")
        config = DefendedConfig(
            num_classes=model.num_classes,
            class_names=list(model.config.class_names),
            sample_rate=model.config.sample_rate,
            defences=[d.to_dict() for d in defenses],
            adaptive=adaptive,
            eot_samples=eot_samples,
        )
        super().__init__(config)
        self.model = model
        self.defenses = nn.Sequential(*defenses)
        self.train(model.training)  # wrapping an eval-mode victim must not flip it to training later

    @property
    def randomised(self) -> bool:
        return any(d.randomised for d in self.defenses)

    @property
    def threat_model(self) -> SERModel:
        """The model an attacker differentiates: this one when adaptive, the bare victim otherwise."""
        return self if self.config.adaptive else self.model

    def forward(self, waveform: Tensor) -> Tensor:
        if waveform.dim() != 2:
            raise ValueError(f"expected a (batch, samples) waveform, got shape {tuple(waveform.shape)}")
        draws = self.config.eot_samples if (self.randomised and torch.is_grad_enabled()) else 1
        logits = [self.model(self.defenses(waveform)) for _ in range(draws)]
        return logits[0] if draws == 1 else torch.stack(logits).mean(0)

    def save_pretrained(self, directory: str | Path) -> Path:
        directory = Path(directory)
        self.model.save_pretrained(directory / VICTIM_DIR)
        write_json(directory / CONFIG_NAME, self.config.to_dict())
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, **overrides: Any) -> Defended:
        raw = {**read_config(directory), **overrides}
        if raw.get("model_type") != DefendedConfig.model_type:
            raise CheckpointError(f"checkpoint is a '{raw.get('model_type')}' model, not 'defended'", directory)
        try:
            check_fields(DefendedConfig, raw)
            config = DefendedConfig.from_dict(raw)
            config.check_recorded()
            defenses = build_defenses(config.defences)
        except (ConfigError, TypeError, ValueError) as exc:
            raise CheckpointError(first_line(exc), Path(directory) / CONFIG_NAME) from None
        victim = load_model(Path(directory) / VICTIM_DIR)
        if victim.config.class_names != config.class_names or victim.num_classes != config.num_classes:
            raise CheckpointError("config.json names other classes than its victim/ checkpoint", directory)
        return cls(victim, defenses, adaptive=config.adaptive, eot_samples=config.eot_samples)
