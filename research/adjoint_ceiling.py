"""The adjoint generator's ceiling: how many clips its form fools when each clip gets its best coefficients.

The adjoint generator sets δ from z = J_F(x)ᵀu, one coefficient u per front-end channel and frame, the
mask the top-k of |z| and v = ε·clip(a·z/rms z). Its context network predicts u from the clip. Here u is
instead a free tensor per clip, optimised by Adam on the adversarial term of the generator's training
objective (the threat's C&W margin at x + v⊗m, κ = 0, through the same straight-through top-k) for
``--steps`` steps on the clips that are scored. Two starts:

* ``generator``: the trained generator's own coefficients (step 0 is the generator's ASR);
* ``gradient``: the true coefficients −∂L/∂h (step 0 is one exact sparse gradient step; Emo18 and
  Zhao19 threats, whose ``head`` reads the front end's features).

What the form can do, per clip, bounds what any context network can learn; the gap between this and the
generator is what learning the coefficients from the training clips loses (the amortisation gap). The
optimisation is an attack (a few forward and backward passes per step), not a way to run the generator.

    python research/adjoint_ceiling.py --cache runs/emodb/cache/emodb-<key> \\
        --threat runs/emodb/models/emo18/best --generator runs/emodb/generators/emo18/staa/best --split test
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from adjoint_probes import true_coefficients
from torch import Tensor, nn

from staa.attacks.base import margin_loss
from staa.attacks.staa import Generator
from staa.data.cache import PreparedCorpus
from staa.models import load_model


class Free(nn.Module):
    """Coefficients that are parameters of their own, one set per clip, in place of a context network."""

    def __init__(self, start: Tensor) -> None:
        super().__init__()
        self.u = nn.Parameter(start.clone())

    def forward(self, h: Tensor) -> Tensor:
        return self.u


def ceiling(generator: Generator, threat: nn.Module, x: Tensor, start: Tensor, steps: int, lr: float,
            every: int) -> list[tuple[int, float]]:  # fmt: skip
    """(step, ASR) every ``every`` steps of Adam on per-clip coefficients from ``start`` (lr relative to its
    mean |u|): the generator itself, with its context network replaced by the free coefficients."""
    labels = threat(x).argmax(-1)
    generator.context = Free(start)
    optimizer = torch.optim.Adam(generator.context.parameters(), lr=lr * float(start.abs().mean()))
    curve = []
    for step in range(steps + 1):
        logits = threat(generator(x).x_adv)
        if step % every == 0:
            curve.append((step, float((logits.argmax(-1) != labels).float().mean())))
        if step < steps:
            optimizer.zero_grad()
            margin_loss(logits, labels).mean().backward()
            optimizer.step()
    return curve


def starts(generator: Generator, threat: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """The generator's coefficients, and the true ones where the threat's head reads the front end's features."""
    with torch.no_grad():
        h = generator.features(x)
        found = {"generator": generator.context(h)}
        if hasattr(threat, "head"):
            found["gradient"] = true_coefficients(threat.head, h)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", required=True, help="prepared corpus folder (the one holding manifest.json)")
    parser.add_argument("--threat", required=True, help="threat SER model folder")
    parser.add_argument("--generator", required=True, help="a trained adjoint generator folder")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.1, help="Adam's rate, relative to the start's mean |u|")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    threat = load_model(args.threat).eval().requires_grad_(False)
    generator = Generator.from_pretrained(args.generator).eval().requires_grad_(False)
    x = torch.from_numpy(np.array(PreparedCorpus.load(args.cache).split(args.split).waves, dtype=np.float32))
    print(f"{args.split}: {len(x)} clips; ASR of the generator's form with per-clip coefficients, by Adam step")
    for name, start in starts(generator, threat, x).items():
        curve = ceiling(generator, threat, x, start, args.steps, args.lr, args.every)
        print(f"from the {name}'s coefficients: " + "  ".join(f"{s}: {100 * a:.1f} %" for s, a in curve))


if __name__ == "__main__":
    main()
