"""The zero-perturbation attack: the control rows of every transfer table.

``ZeroPerturbation(model)`` returns x_adv = x. It goes through exactly the same crafting, caching and
victim evaluation as a real attack, so a non-zero ASR in its row would expose a bug in the pipeline (a
victim whose clean and adversarial predictions are computed differently, a misaligned cache) rather
than an attack.

``ZeroPerturbation(model, generator=g)`` returns what the STAA-Net generator ``g`` outputs at a zero
perturbation budget (ε = 0, so δ ≡ 0). Under ``alignment="exact"`` that is x again; under the authors'
``alignment="authors"`` it is their shifted clip (δ added to the reflection-padded input's head,
docs/official-code.md §3.5), so this row measures how much of the authors' ASR the shift alone produces.
Its SNR and sparsity are measured from x_adv − x like every attack, so they show the shift as well.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from staa.attacks.base import Attack, frozen


class ZeroPerturbation(Attack):
    """δ = 0: x_adv = x, or the generator's output at ε = 0 when a ``generator`` is given."""

    name = "zero"
    control = True

    def __init__(
        self, model: nn.Module, eps: float | None = None, *, eps_db: float | None = None,
        generator: nn.Module | None = None, **kwargs,
    ) -> None:  # fmt: skip
        super().__init__(model, 1.0 if eps is None and eps_db is None else eps, eps_db=eps_db, **kwargs)
        self.generator = generator

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        if self.generator is None:
            return x.clone()
        self.generator.to(x.device)
        with frozen(self.generator), torch.no_grad():
            return self.generator(x, eps=0.0).x_adv

    def _project(self, x: Tensor, x_adv: Tensor) -> Tensor:
        """Only the amplitude range: a shifted clip is the quantity measured, not a δ to bound."""
        return x_adv.clamp(*self.bounds)
