"""STAA-Net as an :class:`~staa.attacks.base.Attack`: one generator forward per batch, no gradients.

This is what makes the attack fast (paper §5): crafting costs a single forward of the trained
generator in eval mode (binary mask), independent of the victim model, which is only queried for the
clean and adversarial predictions. The generator can run at another ε than it was trained at, since
its magnitudes scale linearly with ε; the base class still projects x_adv onto the ε-ball and the
valid range, so the reported δ = x_adv − x is what the victim sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from staa.attacks.base import Attack
from staa.attacks.staa.generator import Generator


class STAANet(Attack):
    """``STAANet(model, generator)(x)`` → AttackResult; ``eps`` defaults to the generator's training ε."""

    name = "staa"

    def __init__(self, model: nn.Module, generator: Generator, eps: float | None = None, **kwargs: Any) -> None:
        super().__init__(model, generator.config.eps if eps is None else eps, **kwargs)
        self.generator = generator

    @classmethod
    def from_pretrained(cls, model: nn.Module, directory: str | Path, **kwargs: Any) -> STAANet:
        """Load the generator saved in ``directory`` (``save_pretrained``) and attack ``model`` with it."""
        return cls(model, Generator.from_pretrained(directory), **kwargs)

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        """x_adv of the generator in eval mode; the labels are not needed (the attack is input-only)."""
        self.generator.to(x.device)
        was_training = self.generator.training
        self.generator.eval()
        try:
            with torch.no_grad():
                return self.generator(x, eps=self.eps).x_adv
        finally:
            self.generator.train(was_training)
