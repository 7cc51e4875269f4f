"""Probes of the adjoint generator: would it fool more with a second look, or with finer coefficients?

The adjoint generator fools as many EmoDB test clips as one exact sparse gradient step
(docs/results/generator-study.md); sparse PGD gains the rest by iterating at the perturbed clip. Each
probe gives the generator one more thing, trains it with the shipped ``emodb`` recipe (top-k 10 %, 400 steps, the same
augmentation) and measures it as ``generator_variants.py`` does (``best/``, the two mask controls,
transfer, mask statistics):

* ``reread-N``: N stages. Stage t reads the front end again at x + v_{t−1}⊗m_{t−1}, the clip the stages
  before it made, with its own context network; v and the mask come from the sum of the stages'
  normalised z. The cost is N forward and backward passes of the front end: iteration, learned.
* ``fine``: a second set of coefficients, one per channel and 5 ms, at the output of the front end's
  second-to-last block (its own context network, zero-initialised so that training starts from the
  shipped generator, given the last block's features as well): a finer map than one coefficient per
  40 ms frame. ``fine-all`` does the same at every block. Emo18 and Zhao19 threats.
* ``recurrent``: the context network is a two-layer bidirectional GRU over the frames (the shape of
  Emo18's head, whose backward pass sets the true coefficients) instead of two convolutions.
* ``surrogate``: the context network is a trainable copy of the threat's own head, and the coefficients
  are its gradient −∂L/∂h (L its C&W margin at its own prediction). Untrained, the generator is one exact
  sparse gradient step; training changes the copy so that its gradient fools more. Emo18 and Zhao19
  threats. Start it at the budget (``--train '{"dense_steps": 0, "anneal_steps": 0, "lr": 1e-4}'``): a
  dense start retrains the copy for a dense δ.

``shipped`` is the shipped generator itself, for ``--distil STEPS``: every probe's context network is
first fitted for STEPS steps to the true coefficients −∂L/∂h (cosine loss, L the C&W margin at the
threat's own prediction) on crops of the training clips, then trained as usual — distillation as a start.

``--generator '{"draws": 4}'`` gives ``fine`` and ``recurrent`` the front end's transpose averaged over 4
sparsely perturbed copies of the clip (``reread-N`` reads the clip each stage made instead).

None is part of the package: none did better than the spread of the shipped generator's seeds
(docs/results/generator-study.md).
With ``--fit-split test`` the probes train on the clips they are scored on, which separates what they can
fit from what generalises.

    python research/adjoint_probes.py --cache runs/emodb/cache/emodb-<key> \\
        --threat runs/emodb/models/emo18/best --victim runs/emodb/models/zhao19/best --out /tmp/adjoint-probes \\
        --probe reread-2 --probe reread-3 --probe fine --probe fine-all
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from generator_probes import RECIPE
from generator_variants import FIT_SPLITS, FittedOn, report, row
from study import add_generator_study_arguments
from torch import Tensor, nn

from staa.attacks.base import margin_loss
from staa.attacks.staa import AdjointGenerator, GeneratorConfig, STAATrainConfig, train_generator
from staa.attacks.staa.adjoint import Context
from staa.audio import SAMPLE_RATE
from staa.io.weights import WEIGHTS_NAME, load_weights
from staa.models import load_model
from staa.models.base import standardize

FINE_HIDDEN = 64


class Reread(AdjointGenerator):
    """``stages`` adjoint steps, each at the clip the steps before it made (class attribute, set per probe)."""

    stages = 2

    def _build(self, config: GeneratorConfig) -> None:
        super()._build(config)
        sizes = (self.context.out.out_channels, config.context_channels, config.context_layers, config.context_kernel)
        self.later = nn.ModuleList(Context(*sizes) for _ in range(self.stages - 1))

    def perturb(self, x: Tensor, eps: float, k_percent: float | None) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        total, current = torch.zeros_like(x), x
        for context in [self.context, *self.later]:
            z = self.adjoint(current, context)
            total = total + z / _rms(z)
            magnitudes = self._bound(self.gain * total / _rms(total), eps)
            mask, scores = self.quantise(total.abs(), k_percent)
            current = torch.clamp(x + magnitudes * mask, -1.0, 1.0)
        return x, magnitudes, mask, scores


class FineContext(nn.Module):
    """Coefficients for one inner block: its features, their clip mean, and the last block's, repeated."""

    def __init__(self, channels: int, last: int) -> None:
        super().__init__()
        self.norm, self.last_norm = nn.GroupNorm(1, channels, affine=False), nn.GroupNorm(1, last, affine=False)
        self.body = nn.Sequential(nn.Conv1d(2 * channels + last, FINE_HIDDEN, 3, padding=1), nn.LeakyReLU(0.1),
                                  nn.Conv1d(FINE_HIDDEN, FINE_HIDDEN, 3, padding=1), nn.LeakyReLU(0.1))  # fmt: skip
        self.out = nn.Conv1d(FINE_HIDDEN, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, h: Tensor, last: Tensor) -> Tensor:
        h = self.norm(h)
        last = F.interpolate(self.last_norm(last), size=h.shape[-1], mode="nearest")
        return self.out(self.body(torch.cat([h, h.mean(-1, keepdim=True).expand_as(h), last], dim=1)))


class Fine(AdjointGenerator):
    """Coefficients at the outputs of the last ``blocks`` pooling blocks of the front end, not only the last."""

    blocks = 2

    def _build(self, config: GeneratorConfig) -> None:
        super()._build(config)
        pools = [i for i, m in enumerate(self.front) if isinstance(m, nn.MaxPool1d)]
        convs = [m.out_channels for m in self.front if isinstance(m, nn.Conv1d)]
        self.taps = pools[-self.blocks : -1]
        self.fine = nn.ModuleList(FineContext(convs[pools.index(i)], convs[-1]) for i in self.taps)

    def adjoint(self, x: Tensor, context: nn.Module | None = None) -> Tensor:
        keep = torch.is_grad_enabled()
        with torch.enable_grad():
            xi = x.detach().requires_grad_(True)
            h, inner = standardize(xi)[:, None], []
            for i, module in enumerate(self.front):
                h = module(h)
                if i in self.taps:
                    inner.append(h)
            with torch.set_grad_enabled(keep):
                u = [f(o.detach(), h.detach()) for f, o in zip(self.fine, inner)] + [self.context(h.detach())]
            return torch.autograd.grad([*inner, h], xi, u, create_graph=keep)[0]


class RecurrentContext(nn.Module):
    """Coefficients from a two-layer bidirectional GRU over the front end's frames: the shape of the
    threat's own recurrent head, whose backward pass sets the true coefficients ∂L/∂h."""

    def __init__(self, channels: int, hidden: int = 128) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, channels, affine=False)
        self.rnn = nn.GRU(channels, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, channels)

    def forward(self, h: Tensor) -> Tensor:
        return self.out(self.rnn(self.norm(h).transpose(1, 2))[0]).transpose(1, 2)


class Recurrent(AdjointGenerator):
    """The shipped generator with a recurrent context network instead of the convolutional one."""

    def _build(self, config: GeneratorConfig) -> None:
        super()._build(config)
        self.context = RecurrentContext(self.context.out.out_channels)


class SurrogateContext(nn.Module):
    """Coefficients −∂L/∂h of a trainable copy of the threat's own head (L its unfloored C&W margin at its
    own prediction): at the start the true coefficients, so the generator starts as one exact sparse
    gradient step; training then changes the head so that its gradient fools more."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = copy.deepcopy(head).requires_grad_(True)

    def forward(self, h: Tensor) -> Tensor:
        return true_coefficients(self.head, h)


class Surrogate(AdjointGenerator):
    """The shipped generator whose context network is :class:`SurrogateContext` (Emo18 and Zhao19 threats)."""

    @classmethod
    def initialised(cls, config: GeneratorConfig, threat_models: Sequence[nn.Module]) -> AdjointGenerator:
        generator = super().initialised(config, threat_models)
        generator.context = SurrogateContext(threat_models[0].head)
        return generator


def true_coefficients(head: nn.Module, h: Tensor) -> Tensor:
    """−∂L/∂h for the front end's features h, L the unfloored C&W margin of ``head`` at its own prediction
    (differentiable with respect to ``head`` while gradients are enabled)."""
    build = torch.is_grad_enabled()
    with torch.enable_grad():
        hg = h.detach().requires_grad_(True)
        logits = head(hg)
        (gradient,) = torch.autograd.grad(margin_loss(logits, logits.argmax(-1), kappa=float("inf")).sum(), hg,
                                          create_graph=build)  # fmt: skip
    return -gradient


def distil(generator: AdjointGenerator, threat: nn.Module, waves: Tensor, steps: int, seed: int) -> float:
    """Fit the context network to the true coefficients −∂L/∂h (cosine loss; L the unfloored C&W margin at
    the threat's own prediction) on random 1 s crops of ``waves`` at ±6 dB; returns the last 50 steps'
    mean cosine. Emo18 and Zhao19 threats (their ``head`` reads the front end's features)."""
    rng = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(generator.context.parameters(), lr=1e-3)
    crop, cosines = min(SAMPLE_RATE, waves.shape[-1]), []
    for _ in range(steps):
        rows = torch.randint(len(waves), (8,), generator=rng).tolist()
        starts = torch.randint(0, waves.shape[-1] - crop + 1, (8,), generator=rng).tolist()
        gains = torch.exp(torch.empty(8, 1).uniform_(-0.69, 0.69, generator=rng))
        x = torch.stack([waves[r, s : s + crop] for r, s in zip(rows, starts)]) * gains
        with torch.no_grad():
            h = generator.features(x)
        with torch.no_grad():
            target = true_coefficients(threat.head, h)
        cosine = F.cosine_similarity(generator.context(h).flatten(1), target.flatten(1), dim=1).mean()
        optimizer.zero_grad()
        (1 - cosine).backward()
        optimizer.step()
        cosines.append(float(cosine))
    return float(np.mean(cosines[-50:]))


def _rms(z: Tensor) -> Tensor:
    return z.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-12)


PROBES: dict[str, type[AdjointGenerator]] = {
    **{f"reread-{n}": type(f"Reread{n}", (Reread,), {"stages": n}) for n in (2, 3)},
    "fine": Fine,
    "fine-all": type("FineAll", (Fine,), {"blocks": 99}),
    "recurrent": Recurrent,
    "surrogate": Surrogate,
    "shipped": AdjointGenerator,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_generator_study_arguments(parser)
    parser.add_argument("--probe", action="append", required=True, choices=list(PROBES))
    parser.add_argument("--train", default="{}", help="overrides of the shipped recipe (JSON)")
    parser.add_argument("--generator", default="{}", help='overrides of the adjoint preset (JSON), e.g. {"draws": 4}')
    parser.add_argument("--fit-split", default="train", choices=FIT_SPLITS)
    parser.add_argument(
        "--distil",
        type=int,
        default=0,
        metavar="STEPS",
        help="first fit each probe's context network to the true coefficients for STEPS steps",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = FittedOn.load(args.cache)
    corpus.fit_split = args.fit_split
    threat, victim = load_model(args.threat).eval(), load_model(args.victim).eval()
    x = torch.from_numpy(np.array(corpus.split("test").waves, dtype=np.float32))
    config = STAATrainConfig.topk(**{**RECIPE, **json.loads(args.train), "seed": args.seed})
    rows: dict[str, Any] = {}
    for name in args.probe:
        torch.manual_seed(args.seed)
        probe = PROBES[name].initialised(GeneratorConfig.adjoint(**json.loads(args.generator)), [threat])
        if args.distil:
            train = torch.from_numpy(np.array(corpus.split("train").waves, dtype=np.float32))
            print(
                f"{name}: cosine with the true coefficients after distillation {distil(probe, threat, train, args.distil, args.seed):.3f}"
            )
        record = train_generator(probe, [threat], corpus, Path(args.out) / name, config, show_progress=False)
        load_weights(probe, Path(args.out) / name / "best" / WEIGHTS_NAME)
        rows[name] = row(probe, record, threat, victim, x)
    print(report({"n_test": len(x), "fit_split": args.fit_split, "variants": rows}))


if __name__ == "__main__":
    main()
