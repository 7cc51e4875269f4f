"""What a one-pass generator can hope for: sparse perturbations built from the threat model's own gradient.

A generator sees only the clip. On real speech it must guess, per sample, *where* the threat model is
sensitive (the size of ∂L/∂x) and *which sign* moves it (the sign of ∂L/∂x). This script takes the true
gradient at the clean clip (what no generator has) and measures, at the same ε and budget k on the same
clips, perturbations that know one, both or neither:

* ``gradient positions, gradient signs``  — one sparse FGSM step: −ε·sign(g) on the k largest |g|;
* ``gradient positions, random signs``     — knowing where, not which way;
* ``random positions, gradient signs``     — knowing which way, not where;
* ``envelope positions, gradient signs``   — positions from |g| smoothed over 5 ms (what a smooth
  position map can express), with the true signs, and with random ones;
* ``random positions, random signs``       — neither (what a random-mask control of noise-like v gives);
* ``gradient positions, ±sign(x)``, ``±sign(Δx)`` — signs read off the clip (or its first difference), the
  better of the two overall signs per clip: could a generator copy the gradient's signs from its input?
* ``gradient positions, signs p % right``  — the true signs on a share p of the positions;
* ``gradient over D sparse random copies`` — one sparse step along the mean of the normalised gradient
  at D copies of the clip with ±ε on k random samples each (D = 4, 8, 16): the gradient where such a
  perturbation takes the clip (what the adjoint generator's ``draws`` give its front end);
* sparse PGD-20 (positions of the clean gradient, 20 steps) for scale.

With ``--generator`` it also measures a trained STAA-Net generator on the same clips: its ASR, how often
its v has the sign of −g where it perturbs (weighted by |g|), the rank correlation of its position
scores with |g|, and where the energy of g and of v lies in frequency (share per band): a generator
whose v sits in other bands than the gradient cannot be predicting its signs.

Reproduce, e.g. on a finished ``staa run emodb``::

    python research/position_oracle.py --checkpoint runs/emodb/models/emo18/best --cache runs/emodb/cache \\
        --split test [--generator runs/emodb/generators/emo18/staa/best]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch
from study import add_shared_arguments
from torch import Tensor

from staa.attacks import SparsePGD
from staa.attacks.base import margin_loss
from staa.attacks.staa import Generator
from staa.data.cache import PreparedCorpus
from staa.models import load_model


def top_positions(score: Tensor, k: int) -> Tensor:
    return torch.zeros_like(score).scatter_(-1, score.topk(k, dim=-1).indices, 1.0)


def fooled(model: torch.nn.Module, x: Tensor, delta: Tensor, clean: Tensor) -> Tensor:
    with torch.no_grad():
        return model((x + delta).clamp(-1, 1)).argmax(-1) != clean


def success(model: torch.nn.Module, x: Tensor, delta: Tensor, clean: Tensor) -> float:
    return float(fooled(model, x, delta, clean).double().mean())


def oracles(model: torch.nn.Module, x: Tensor, eps: float, k: int, seed: int) -> dict[str, float]:
    with torch.no_grad():
        clean = model(x).argmax(-1)
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(margin_loss(model(xg), clean).sum(), xg)
    rng = torch.Generator().manual_seed(seed)
    random_sign = torch.where(torch.rand(x.shape, generator=rng) < 0.5, -1.0, 1.0)
    random_pos = top_positions(torch.rand(x.shape, generator=rng), k)
    grad_pos = top_positions(g.abs(), k)
    envelope = torch.nn.functional.avg_pool1d(g.abs()[:, None], 81, 1, 40, count_include_pad=False)[:, 0]
    env_pos = top_positions(envelope, k)
    sign = -torch.sign(g)
    out = {
        "gradient positions, gradient signs": success(model, x, eps * sign * grad_pos, clean),
        "gradient positions, random signs": success(model, x, eps * random_sign * grad_pos, clean),
        "random positions, gradient signs": success(model, x, eps * sign * random_pos, clean),
        "envelope positions, gradient signs": success(model, x, eps * sign * env_pos, clean),
        "envelope positions, random signs": success(model, x, eps * random_sign * env_pos, clean),
        "random positions, random signs": success(model, x, eps * random_sign * random_pos, clean),
    }
    for name, carrier in (("x", torch.sign(x)), ("Δx", torch.sign(torch.diff(x, prepend=x[:, :1])))):
        either = [fooled(model, x, s * eps * carrier * grad_pos, clean) for s in (1.0, -1.0)]
        out[f"gradient positions, ±sign({name}), better per clip"] = float((either[0] | either[1]).double().mean())
    for right in (0.6, 0.8, 0.9):
        flip = torch.where(torch.rand(x.shape, generator=rng) < right, 1.0, -1.0)
        out[f"gradient positions, signs {round(100 * right)} % right"] = success(
            model, x, eps * sign * flip * grad_pos, clean
        )
    for draws in (4, 8, 16):
        averaged = smoothed_gradient(model, x, clean, eps, k, draws, rng)
        out[f"gradient over {draws} sparse random copies, its positions and signs"] = success(
            model, x, -eps * torch.sign(averaged) * top_positions(averaged.abs(), k), clean
        )
    pgd = SparsePGD(model, eps, k=k, steps=20, seed=seed)
    out["sparse PGD-20 (for scale)"] = float(pgd(x).success.double().mean())
    return out


def smoothed_gradient(model: torch.nn.Module, x: Tensor, clean: Tensor, eps: float, k: int, draws: int,
                      rng: torch.Generator) -> Tensor:  # fmt: skip
    """The mean of g/rms(g) at ``draws`` copies of x with ±ε on k random samples each: the gradient where
    a sparse perturbation takes the clip, not only where it starts (the adjoint generator's ``draws``)."""
    total = torch.zeros_like(x)
    for _ in range(draws):
        noise = eps * torch.where(torch.rand(x.shape, generator=rng) < 0.5, -1.0, 1.0)
        xg = (x + noise * top_positions(torch.rand(x.shape, generator=rng), k)).clamp(-1, 1).requires_grad_(True)
        # the margin unfloored: a copy that noise alone fools still says which way fools more
        (g,) = torch.autograd.grad(margin_loss(model(xg), clean, kappa=float("inf")).sum(), xg)
        total += g / g.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-30)
    return total / draws


BANDS_HZ = (0, 500, 1000, 2000, 4000, 6000)


def band_shares(s: Tensor, sample_rate: int) -> list[float]:
    """Share of the energy of the rows of ``s`` (summed over clips) in each band from BANDS_HZ up to Nyquist."""
    power = torch.fft.rfft(s.double(), dim=-1).abs().pow(2).sum(0)
    freq = torch.fft.rfftfreq(s.shape[-1], 1 / sample_rate)
    edges = [*BANDS_HZ, sample_rate / 2 + 1]
    return [float(power[(freq >= lo) & (freq < hi)].sum() / power.sum()) for lo, hi in zip(edges[:-1], edges[1:])]


def generator_agreement(model: torch.nn.Module, generator: Generator, x: Tensor, sample_rate: int) -> dict[str, Any]:
    """The generator's ASR, sign agreement of v with −g where it perturbs (|g|-weighted), rank correlation of
    its scores with |g| (Spearman, mean over clips)."""
    with torch.no_grad():
        clean = model(x).argmax(-1)
        out = generator.eval()(x)
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(margin_loss(model(xg), clean).sum(), xg)
    where = out.delta != 0
    weight = g.abs() * where
    agree = float(((torch.sign(out.delta) == -torch.sign(g)).double() * weight).sum() / weight.sum().clamp_min(1e-30))
    ranks = []
    if out.scores is not None:
        for s, a in zip(out.scores, g.abs()):
            rs, ra = s.argsort().argsort().double(), a.argsort().argsort().double()
            ranks.append(float(np.corrcoef(rs.numpy(), ra.numpy())[0, 1]))
    with torch.no_grad():
        asr = float((model(out.x_adv).argmax(-1) != clean).double().mean())
    return {"asr": asr,
            "sign agreement (|g|-weighted)": agree,
            "rank correlation of scores with |g|": float(np.mean(ranks)) if ranks else float("nan"),
            "bands": {"gradient g": band_shares(g, sample_rate),
                      "generator v": band_shares(out.magnitudes, sample_rate),
                      "clip x": band_shares(x, sample_rate)}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_arguments(parser)
    parser.add_argument("--checkpoint", required=True, help="threat SER model folder")
    parser.add_argument("--cache", required=True, help="prepared corpus folder (the one holding manifest.json)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--generator", help="a trained generator folder to measure on the same clips")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = PreparedCorpus.load(args.cache)
    x = torch.from_numpy(np.array(corpus.split(args.split).waves, dtype=np.float32))
    model = load_model(args.checkpoint).eval().requires_grad_(False)
    k = max(1, int(args.k_percent * x.shape[-1] / 100))
    result: dict[str, Any] = {"clips": len(x), "eps": args.eps, "k_percent": args.k_percent,
                              "oracles": oracles(model, x, args.eps, k, args.seed)}  # fmt: skip
    if args.generator:
        generator = Generator.from_pretrained(args.generator)
        result["generator"] = generator_agreement(model, generator, x, corpus.sample_rate)
    print(f"{len(x)} clips of {corpus.name}/{args.split}, ε {args.eps}, k {args.k_percent} % ({k} samples): ASR")
    for name, value in result["oracles"].items():
        print(f"  {name:<44} {100 * value:5.1f} %")
    measured = dict(result.get("generator", {}))
    bands = measured.pop("bands", {})
    for name, value in measured.items():
        print(
            f"  generator: {name:<33} {100 * value:5.1f} %"
            if name == "asr"
            else f"  generator: {name:<33} {value:6.3f}"
        )
    if bands:
        edges = [*BANDS_HZ, corpus.sample_rate // 2]
        names = (f"{lo}-{hi}" for lo, hi in zip(edges[:-1], edges[1:]))
        print("  energy share per band (Hz): " + "  ".join(names))
        for name, shares in bands.items():
            print(f"    {name:<12} " + "  ".join(f"{100 * v:5.1f} %" for v in shares))


if __name__ == "__main__":
    main()
