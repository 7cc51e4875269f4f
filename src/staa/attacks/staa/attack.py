"""STAA-Net as an :class:`~staa.attacks.base.Attack`: one generator forward per batch, no gradients.

This is what makes the attack fast (paper §5): crafting costs a single forward of the trained
generator in eval mode (binary mask), independent of the victim model, which is only queried for the
clean and adversarial predictions. The generator can run at another ε than it was trained at, since
its magnitudes scale linearly with ε; the base class still projects x_adv onto the ε-ball and the
valid range, so the reported δ = x_adv − x is what the victim sees.

By default the attack runs a fused inference copy of the generator (:mod:`staa.attacks.staa.fused`:
batch norm folded, sub-pixel up-sampling; equal to the generator up to float rounding, and faster on
CPUs). The copy is taken when the attack is built: a generator trained further afterwards needs a new
attack (or ``fused=False``, which always runs the generator itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from staa.attacks.base import FittedAttack
from staa.attacks.staa.config import GeneratorConfig
from staa.attacks.staa.fused import fuse
from staa.attacks.staa.generator import Generator
from staa.io.weights import check_checkpoint, read_config


def generator_budget(generator: Generator, eps: float | None, eps_db: float | None) -> dict[str, float | None]:
    """The budget given (``eps`` or ``eps_db``), else the one the generator was trained under."""
    if eps is None and eps_db is None:
        config = generator.config
        return (
            {"eps": None, "eps_db": config.eps_db} if config.eps_db is not None else {"eps": config.eps, "eps_db": None}
        )
    return {"eps": eps, "eps_db": eps_db}


class STAANet(FittedAttack):
    """STAA-Net: one forward of a trained generator per batch (``--generator DIR``; `staa generator train`).

    ``STAANet.from_pretrained(model, "generator/best")(x)`` → AttackResult; without ``eps`` or ``eps_db``
    the generator's training budget.
    """

    name = "staa"
    fitted_state = "generator"

    def __init__(
        self,
        model: nn.Module,
        generator: Generator,
        eps: float | None = None,
        *,
        eps_db: float | None = None,
        fused: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, **generator_budget(generator, eps, eps_db), **kwargs)
        self.generator = generator
        self.fused = fuse(generator) if fused else None

    @classmethod
    def from_pretrained(cls, model: nn.Module, directory: str | Path, **kwargs: Any) -> STAANet:
        """Load the generator saved in ``directory`` (``save_pretrained``) and attack ``model`` with it.

        The folder's config is checked first (types, ranges, weights that fit it; :func:`check_checkpoint`),
        so a damaged or hostile ``config.json`` is one line, not a network of absurd size.
        """
        if read_config(directory).get("model_type") == GeneratorConfig.model_type:
            check_checkpoint(directory, GeneratorConfig, Generator.for_config)
        return cls(model, Generator.from_pretrained(directory), **kwargs)

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        """x_adv of the generator in eval mode; the labels are not needed (the attack is input-only)."""
        if self.fused is not None:
            with torch.no_grad():
                return self.fused.to(x.device)(x, eps=self.clip_eps(x)).x_adv
        self.generator.to(x.device)
        was_training = self.generator.training
        self.generator.eval()
        try:
            with torch.no_grad():
                return self.generator(x, eps=self.clip_eps(x)).x_adv
        finally:
            self.generator.train(was_training)
