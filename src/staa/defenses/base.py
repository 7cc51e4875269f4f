"""The defense contract: a waveform → waveform ``nn.Module`` placed in front of any SER model.

A defense maps (B, N) raw waveforms to (B, N) waveforms. Each records the arguments it was built with
(:meth:`Defense.to_dict`), so a defended model's ``config.json`` rebuilds the exact same pipeline
(:func:`staa.defenses.registry.build_defense`).

Gradients matter because an *adaptive* attacker differentiates through the defense. Smooth defenses
(low-pass, resampling, additive noise) are differentiable as they are; a step function such as
quantisation has a zero gradient almost everywhere, so it uses BPDA (Athalye et al., 2018): the exact
transform forwards, the identity backwards (:func:`straight_through`). Randomised defenses declare
``randomised = True`` so that :class:`~staa.defenses.defended.Defended` can average gradients over
several draws (EOT).
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from staa.errors import ConfigError


def straight_through(x: Tensor, y: Tensor) -> Tensor:
    """Forward ``y``, backward the identity with respect to ``x`` (the BPDA approximation)."""
    return x + (y - x).detach()


class Defense(nn.Module):
    """Base class: subclasses pass their constructor arguments to ``super().__init__`` and implement forward."""

    name: ClassVar[str] = "defence"
    randomised: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        super().__init__()
        self.params = params

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.params.items())


def check_waveform_batch(x: Tensor, who: str) -> None:
    if x.dim() != 2:
        raise ConfigError(f"{who}: expected a (batch, samples) waveform, got shape {tuple(x.shape)}")
