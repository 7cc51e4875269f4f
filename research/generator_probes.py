"""Probes of the Wave-U-Net generator: would it predict the gradient's signs if given more to shape them with?

The shipped generator's v lies below 500 Hz while Emo18's gradient lies between 2 and 8 kHz
(``position_oracle.py --generator``). Each probe changes one thing about what the network sees or how
its magnitude head is built, trains with the shipped ``emodb`` recipe (top-k 10 %, 400 steps, the same
augmentation, seed 0) and reports ASR on the training and test clips, transfer to a victim, and v's
energy per band:

* ``emphasis``: the pre-emphasised clip (x[t] − 0.97·x[t−1], ×8) as a second input channel, a source of
  high frequencies at the clip's own phase;
* ``bilinear``: the magnitude decoder emits 16 coefficients per sample that weight 16 learned 33-tap
  filters of the clip, so v can follow the clip's fine structure sample by sample;
* ``threat-aware``: the threat model's own first layer enters as 128 extra channels (its 64 activations
  and, for each, where its max-pooling window peaks: the samples through which the gradient enters the
  network). Emo18 threat models only. It tells the generator exactly *where* the gradient can flow.

None is part of the package: none raised the test ASR (docs/results/generator-study.md). The probes are
kept so that the measurement can be repeated and extended.

    python research/generator_probes.py --cache runs/emodb/cache/emodb-<key> \\
        --threat runs/emodb/models/emo18/best --victim runs/emodb/models/zhao19/best --out /tmp/probes \\
        --probe emphasis --probe bilinear --probe threat-aware
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from position_oracle import BANDS_HZ, band_shares
from study import add_generator_study_arguments
from torch import Tensor, nn

from staa.attacks.staa import Generator, GeneratorConfig, STAATrainConfig, train_generator
from staa.data.cache import PreparedCorpus
from staa.errors import ConfigError
from staa.models import load_model

RECIPE = {"steps": 400, "dense_steps": 100, "anneal_steps": 150, "eval_every": 50,
          "augment": {"speed": 0.1, "gain_db": 6.0, "noise_prob": 0.5, "snr_db": [20.0, 40.0], "crop_seconds": 1.0}}  # fmt: skip
FILTERS, TAPS = 16, 33


class ProbeGenerator(Generator):
    """The ``fast`` generator with extra input channels and, optionally, a bilinear magnitude head."""

    def __init__(self, probe: str, threat: nn.Module) -> None:
        super().__init__(GeneratorConfig.fast(noise_channels=0))
        self.probe = probe
        self.front = [threat.cnn[:3]] if probe == "threat-aware" else []  # a list: frozen, not a submodule
        extra = {"emphasis": 1, "threat-aware": 128}.get(probe, 0)
        if extra:
            first = self.encoder[0].pre[0]
            first[0] = nn.Conv1d(1 + extra, first[0].out_channels, first[0].kernel_size[0])
        if probe == "bilinear":
            self.filters = nn.Conv1d(1, FILTERS, TAPS, padding=TAPS // 2)
            self.magnitude_decoder.head = nn.Conv1d(self.config.channels[0], FILTERS, 1)

    def extra_channels(self, padded: Tensor) -> list[Tensor]:
        if self.probe == "emphasis":
            return [8 * F.pad(padded[:, 1:] - 0.97 * padded[:, :-1], (1, 0))[:, None]]
        if self.probe != "threat-aware":
            return []
        with torch.no_grad():
            act = self.front[0](F.pad(padded, (0, 1))[:, None])  # Emo18's conv (k 8, padding 3) → BN → LeakyReLU
            whole = act.shape[-1] - act.shape[-1] % 10
            _, peaks = F.max_pool1d(act[..., :whole], 10, 10, return_indices=True)
            scale = act.std(dim=(1, 2), keepdim=True) + 1e-6
            return [act / scale, torch.zeros_like(act).scatter_(-1, peaks, 1.0)]

    def heads(self, padded: Tensor, count: int, eps: float) -> tuple[Tensor, Tensor | None]:
        h, skips = torch.cat([padded[:, None], *self.extra_channels(padded)], dim=1), []
        for block in self.encoder:
            h, skip = block(h)
            skips.append(skip)
        z = self.magnitude_decoder(h, skips)[..., :count]
        if self.probe == "bilinear":
            left = self.plan(count).left
            z = 10 * (z * self.filters(padded[:, None, left : left + count])).sum(1, keepdim=True)
        logits = self.position_decoder(h, skips)[:, 0, :count]
        return self._bound(z[:, 0], eps), logits


def measure(generator: Generator, threat: nn.Module, victim: nn.Module, x: Tensor, rate: int) -> dict[str, Any]:
    with torch.no_grad():
        out = generator.eval()(x)
        asr = threat(out.x_adv).argmax(-1) != threat(x).argmax(-1)
        transfer = victim(out.x_adv).argmax(-1) != victim(x).argmax(-1)
    return {"clips": len(x), "asr": float(asr.float().mean()), "transfer": float(transfer.float().mean()),
            "v_bands": band_shares(out.magnitudes, rate)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_generator_study_arguments(parser)
    parser.add_argument("--probe", action="append", required=True, choices=("emphasis", "bilinear", "threat-aware"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = PreparedCorpus.load(args.cache)
    threat = load_model(args.threat).eval().requires_grad_(False)
    victim = load_model(args.victim).eval().requires_grad_(False)
    if "threat-aware" in args.probe and not hasattr(threat, "cnn"):
        raise ConfigError(f"{args.threat}: the threat-aware probe reads Emo18's first layer; this model has none")
    splits = {s: torch.from_numpy(np.array(corpus.split(s).waves, dtype=np.float32)) for s in ("train", "test")}
    results = {}
    for probe in args.probe:
        torch.manual_seed(args.seed)
        generator = ProbeGenerator(probe, threat)
        record = train_generator(generator, [threat], corpus, Path(args.out) / probe,
                                 STAATrainConfig.topk(**RECIPE, seed=args.seed), show_progress=False)  # fmt: skip
        results[probe] = {"val_asr_history": [round(r["val_asr"], 3) for r in record["history"]],
                          **{s: measure(generator, threat, victim, x, corpus.sample_rate) for s, x in splits.items()}}  # fmt: skip
        r = results[probe]
        print(f"{probe}: validation ASR every 50 steps {r['val_asr_history']}")
        for s in splits:
            bands = "  ".join(f"{100 * v:4.1f}" for v in r[s]["v_bands"])
            print(f"  {s} ({r[s]['clips']} clips, last step): ASR {100 * r[s]['asr']:.1f} %, "
                  f"transfer {100 * r[s]['transfer']:.1f} %, v per band from {BANDS_HZ} Hz (%): {bands}")  # fmt: skip
    (Path(args.out) / "probes.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
