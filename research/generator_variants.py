"""Generator variants side by side: does a design choice make STAA-Net learn *where* to attack?

Each variant (generator and training overrides of a generator preset, ``fast`` unless it names another,
and of the ``topk`` training preset) is trained from
the same seed against one threat model on a prepared corpus, then measured on the test clips with the
checks a generator must pass: white-box ASR, the two mask controls (the generator's own v on random positions
and on a periodic comb of the same count: positions carry information only if the generator beats
both), transfer to a victim, and the mask statistics (Jaccard overlap between clips: ≈ 1 for one
universal pattern; periodicity). Numbers rest on the test split's clips, printed with them.

``--fit-split test`` trains every variant on the test clips themselves (validation as usual): what the
generator reaches when it may memorise the clips it is scored on. It separates capacity from
generalisation: a design that falls short even here cannot be rescued by more training data.

    python research/generator_variants.py --cache runs/demo/cache --threat runs/demo/models/emo18/best \\
        --victim runs/demo/models/zhao19/best --out /tmp/variants \\
        --variant 'no carrier={"generator": {"noise_channels": 0}}' --variant 'carrier={}' \\
        --train '{"steps": 300, "dense_steps": 60, "anneal_steps": 120, "eval_every": 100}'
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from study import add_generator_study_arguments

from staa.attacks.staa import Generator, GeneratorConfig, STAANet, STAATrainConfig, train_generator
from staa.attacks.staa.controls import MaskControl
from staa.data.cache import PreparedCorpus, Split
from staa.metrics import mask_jaccard, mask_periodicity
from staa.models import load_model


def measure(attack: Any, victim: Any, x: torch.Tensor) -> dict[str, float]:
    """ASR on the threat, flip rate on the victim, sparsity and mask statistics of one attack on ``x``."""
    out = attack(x)
    with torch.no_grad():
        flipped = victim(out.x_adv).argmax(-1) != victim(x).argmax(-1)
    return {"asr": float(out.success.float().mean()), "transfer": float(flipped.float().mean()),
            "sparsity_pct": float(out.sparsity.mean()), "mask_jaccard": mask_jaccard(out.delta),
            "mask_periodicity": float(mask_periodicity(out.delta).nanmean())}  # fmt: skip


class FittedOn(PreparedCorpus):
    """A prepared corpus whose training split is another of its splits, or several joined by ``+``
    (``--fit-split``)."""

    fit_split: str = "train"

    def split(self, name: str) -> Any:
        if name != "train":
            return super().split(name)
        parts = [super(FittedOn, self).split(s) for s in self.fit_split.split("+")]
        return Split(np.concatenate([p.waves for p in parts]), np.concatenate([p.labels for p in parts]),
                     [item for p in parts for item in p.items])  # fmt: skip


FIT_SPLITS = ("train", "val", "test", "train+val")


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    corpus = FittedOn.load(args.cache)
    corpus.fit_split = args.fit_split
    threat, victim = load_model(args.threat).eval(), load_model(args.victim).eval()
    x = torch.from_numpy(np.array(corpus.split("test").waves, dtype=np.float32))
    shared = json.loads(args.train)
    rows = {}
    for spec in args.variant:
        name, _, overrides = spec.partition("=")
        overrides = json.loads(overrides or "{}")
        torch.manual_seed(args.seed)
        preset = overrides.get("preset", "fast")
        generator = Generator.for_config(GeneratorConfig.preset(preset, **overrides.get("generator", {})), [threat])
        config = STAATrainConfig.topk(**{**shared, **overrides.get("train", {}), "seed": args.seed})
        record = train_generator(generator, [threat], corpus, Path(args.out) / name, config, show_progress=False)
        rows[name] = row(Generator.from_pretrained(Path(args.out) / name / "best"), record, threat, victim, x)
    return {"n_test": len(x), "fit_split": args.fit_split, "variants": rows}


def row(best: Generator, record: dict[str, Any], threat: Any, victim: Any, x: torch.Tensor) -> dict[str, Any]:
    """One variant's line: its validation ASR in training, then the generator and its two mask controls on ``x``."""
    best.eval()
    return {"val_asr": record["best"]["val_asr"] if record["best"] else None,
            **{k: measure(a, victim, x) for k, a in (("staa", STAANet(threat, best)),
                                                     ("random_mask", MaskControl(threat, best, "random")),
                                                     ("comb_mask", MaskControl(threat, best, "comb")))}}  # fmt: skip


def report(result: dict[str, Any]) -> str:
    lines = [f"test clips: {result['n_test']}; trained on the {result['fit_split']} split",
             "variant | val ASR | test ASR | random_mask | comb_mask | transfer | sparsity % | Jaccard | periodicity",
             "---|---|---|---|---|---|---|---|---"]  # fmt: skip
    for name, r in result["variants"].items():
        s = r["staa"]
        lines.append(f"{name} | {r['val_asr']:.3f} | {s['asr']:.3f} | {r['random_mask']['asr']:.3f} | "
                     f"{r['comb_mask']['asr']:.3f} | {s['transfer']:.3f} | {s['sparsity_pct']:.2f} | "
                     f"{s['mask_jaccard']:.3f} | {s['mask_periodicity']:.3f}")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_generator_study_arguments(parser)
    parser.add_argument(
        "--variant",
        action="append",
        required=True,
        help='NAME={"preset": "fast", "generator": {...}, "train": {...}}: a generator preset '
        "(fast if not named) and overrides of it and of the topk training preset",
    )
    parser.add_argument("--train", default="{}", help="training overrides shared by every variant (JSON)")
    parser.add_argument(
        "--fit-split",
        default="train",
        choices=FIT_SPLITS,
        help="the split the generators train on (test: the capacity probe; train+val: a third speaker)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(report(run(args)))


if __name__ == "__main__":
    main()
