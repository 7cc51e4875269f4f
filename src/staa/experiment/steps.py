"""The steps of an experiment, in the order the runner takes them: corpus → SER models → attacks.

Every step first looks for its outputs and reuses them (long steps resume from their last finished
epoch or chunk), and claims its folder for the settings that made it (:func:`~staa.io.outputs.claim_folder`;
SER models and generators are claimed by their training functions, which also reuse a finished folder):

* :func:`prepare_corpus` — decode, resample and cache the corpus.
* :func:`train_ser_model` — train (or fine-tune adversarially) one SER model and evaluate it per split; first
  pre-train it on pooled corpora when its entry asks (:func:`pretrain_model`).
* :func:`build_attack_for` — the attack of an attacker plan on a threat model; for STAA-Net this trains the
  generator (:func:`train_generator_for`), for the universal perturbation it fits δ (:func:`fit_universal_for`).
* :func:`attack_and_replay` — craft the plan's adversarial set per split and replay it on every victim.

The attack steps take their seed and folders from the context (:attr:`ExperimentContext.run_seed`,
:attr:`ExperimentContext.attack_root`), so a repeat under another seed is the same call on another context.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from staa.attacks.base import Attack, FittedAttack
from staa.attacks.budget import budget_claim
from staa.attacks.registry import accepts
from staa.attacks.staa import Generator, STAANet
from staa.attacks.staa.controls import MaskControl
from staa.attacks.universal import FIT_FILE, PERTURBATION_FILE, fitted_universal
from staa.data.cache import prepare
from staa.data.registry import build_corpus
from staa.data.speech import pooled_speech
from staa.errors import ConfigError
from staa.evaluation.adversarial_set import file_fingerprint
from staa.evaluation.transfer import evaluate_victim, transfer_row
from staa.experiment.context import ExperimentContext
from staa.experiment.plans import (
    AttackerPlan,
    generator_config,
    model_train_config,
    per_clip_attack,
    plan_of,
    pretrain_settings,
    teacher_of,
    train_config,
    train_data,
    universal_config,
)
from staa.io.outputs import claim_folder, write_json
from staa.io.paths import resolve_inside
from staa.models.base import WEIGHTS_NAME
from staa.models.registry import build_model, load_model
from staa.runtime.reproducibility import provenance, seed_everything
from staa.training.adversarial import adversarial_train
from staa.training.generator import budget_controllers, train_staa_generator
from staa.training.pretrain import pretrain
from staa.training.ser import TrainConfig, evaluate_ser, train_ser


def prepare_corpus(ctx: ExperimentContext) -> None:
    """Decode, resample and cache the corpus (``corpus.cache``, a folder inside the output folder)."""
    spec = ctx.config["corpus"]
    root = spec.get("root")
    if spec["name"] != "synthetic" and not str(spec["name"]).endswith(".csv") and not root:
        raise ConfigError(f"corpus '{spec['name']}' needs its folder: add --set corpus.root=/path/to/{spec['name']}")
    corpus = build_corpus(spec["name"], root, **(spec.get("options") or {}))
    cache = resolve_inside(ctx.out, spec.get("cache") or "cache", what="corpus.cache")
    ctx.log(f"corpus: preparing {corpus.name} (cache {cache})")
    ctx.corpus = prepare(corpus, cache, seconds=spec.get("seconds"), show_progress=ctx.show_progress)


def train_ser_model(ctx: ExperimentContext, name: str) -> None:
    """Train (or reuse) one SER model and evaluate it on every reported split (or reuse eval.json)."""
    spec = ctx.config["models"][name]
    directory = ctx.out / "models" / name
    train_cfg = model_train_config(ctx.config, name, ctx.seed)
    if (pooled := pretrain_settings(ctx.config, name)) is not None:
        train_cfg = replace(train_cfg, init_from=str(pretrain_model(ctx, name, pooled)))
    source = (spec.get("adversarial") or {}).get("from")
    adversarial = spec.get("adversarial") is not None
    if (directory / "train.json").exists() and not ctx.overwrite:
        ctx.log(f"SER model {name}: reusing {directory / 'best'} if its settings are these")
    else:
        ctx.log(
            f"SER model {name}: {'adversarially ' if adversarial else ''}training {spec['arch']} for "
            f"{train_cfg.epochs} epochs" + (f", starting from {source}" if source else "")
        )
    if source:
        model = load_model(ctx.out / "models" / source / "best")
    else:
        seed_everything(ctx.seed)  # initial weights fixed by the seed alone, not by which steps ran before
        model = build_model(
            spec["arch"],
            num_classes=len(ctx.corpus.classes),
            class_names=ctx.corpus.classes,
            **(spec.get("options") or {}),
        )
    train = adversarial_train if adversarial else train_ser
    train(
        model,
        ctx.corpus,
        directory,
        train_cfg,
        device=ctx.device,
        show_progress=ctx.show_progress,  # type: ignore[arg-type]
        overwrite=ctx.overwrite,
    )
    model = load_model(directory / "best").to(ctx.device).eval()
    model.check_fits(ctx.corpus.classes, ctx.corpus.sample_rate, directory / "best")
    ctx.models[name] = model
    ctx.fingerprints[name] = file_fingerprint(directory / "best" / WEIGHTS_NAME)
    eval_path = directory / "eval.json"
    evaluation = json.loads(eval_path.read_text()) if eval_path.exists() else {}
    done = evaluation.get("splits", {})
    if evaluation.get("key") != ctx.fingerprints[name] or any("uar_ci" not in done.get(s, {}) for s in ctx.splits):
        splits = {s: evaluate_ser(model, ctx.corpus.split(s), device=ctx.device) for s in ctx.splits}
        write_json(
            eval_path,
            {"key": ctx.fingerprints[name], "corpus": ctx.corpus.name, "splits": splits, "provenance": provenance()},
        )


def train_generator_for(ctx: ExperimentContext, threat: str, plan: AttackerPlan, target: int | None) -> Generator:
    """Train (or reuse) the STAA-Net generator of ``plan`` against ``threat``; return it loaded.

    It trains on the corpus's training split, or on the speech of ``train.data`` (:mod:`staa.data.speech`,
    pooled beside the corpus's cache); validation is the corpus's validation split either way. With
    ``train.teacher`` the teacher attacker's generator is trained (or reused) first and this one distilled
    from it before its own training.
    """
    teacher = teacher_of(ctx.config, threat, plan)
    distillation: dict[str, Any] = {}
    if teacher is not None:
        train_generator_for(ctx, threat, teacher[0], target)
        folder = ctx.attack_root / "generators" / threat / teacher[0].id / "best"
        distillation = {"teacher": folder, "distil_steps": teacher[1]}
    gen_cfg = generator_config(plan)
    train_cfg, budget = train_config(plan, ctx.run_seed, target)
    directory = ctx.attack_root / "generators" / threat / plan.id
    sources, corpus = train_data(plan), ctx.corpus
    if sources is not None:
        corpus = pooled_speech(sources, ctx.corpus, ctx.corpus.path.parent, show_progress=ctx.show_progress)
        ctx.log(f"generator {threat}/{plan.id}: {len(corpus.split('train'))} training clips from "
                f"{', '.join(s.describe() for s in sources)}")  # fmt: skip
    if (directory / "train.json").exists() and not ctx.overwrite:
        ctx.log(f"generator {threat}/{plan.id}: reusing {directory / 'best'} if its settings are these")
    else:
        length = f"{train_cfg.steps} steps" if train_cfg.steps else f"{train_cfg.epochs} epochs"
        ctx.log(f"generator {threat}/{plan.id}: training for {length}")
    train_staa_generator(gen_cfg, train_cfg, [ctx.models[threat]], corpus, directory,
                         budgets=budget_controllers(train_cfg, **(budget or {})), device=ctx.device,
                         show_progress=ctx.show_progress, overwrite=ctx.overwrite, **distillation)  # fmt: skip
    return Generator.from_pretrained(directory / "best")


def fit_universal_for(ctx: ExperimentContext, threat: str, plan: AttackerPlan, target: int | None) -> Attack:
    """Fit (or reuse) the universal perturbation of ``plan`` on the training split against ``threat``."""
    fit_cfg = universal_config(plan, ctx.run_seed)
    directory = ctx.attack_root / "generators" / threat / plan.id
    claim_folder(directory, {"settings": plan.settings, "fit": asdict(fit_cfg), **budget_claim(plan.budget), "target": target,
                             "threat": ctx.fingerprints[threat], "corpus": ctx.corpus.path.name},
                 outputs=(PERTURBATION_FILE, FIT_FILE), overwrite=ctx.overwrite)  # fmt: skip
    train = ctx.corpus.split("train")
    ctx.log(f"universal perturbation {threat}/{plan.id}: fitted on {len(train)} training clips for {fit_cfg.epochs} "
            f"epochs, or reused from {directory}")  # fmt: skip
    return fitted_universal(
        ctx.models[threat], directory, lambda: torch.from_numpy(np.array(train.waves, dtype=np.float32)),
        **plan.budget, target=target, config=fit_cfg, settings=plan.settings, record={"settings": plan.settings},
    )  # fmt: skip


def pretrain_model(ctx: ExperimentContext, name: str, pooled: dict[str, Any]) -> Path:
    """Pre-train ``models.<name>`` on the pooled corpora (``pretrain/<name>/``, resumable); its ``best/`` folder."""
    folder = ctx.out / "pretrain" / name
    ctx.log(f"SER model {name}: pre-training on {', '.join(pooled['roots'])} pooled ({folder})")
    cfg = TrainConfig.pooled(epochs=pooled["epochs"], seed=ctx.seed)
    spec = ctx.config["models"][name]
    pretrain(pooled["roots"], folder, model=spec["arch"], options=spec.get("options"), train_only=pooled["train_only"],
             seconds=pooled["seconds"], config=cfg, device=ctx.device, show_progress=ctx.show_progress,
             overwrite=ctx.overwrite)  # fmt: skip
    return folder / "pretrain" / "best"


def build_attack_for(
    ctx: ExperimentContext, threat: str, plan: AttackerPlan, target: int | None
) -> tuple[Attack, dict[str, Any]]:
    """The attack of ``plan`` on ``threat`` and the settings that identify its outputs."""
    model = ctx.models[threat]
    cls = plan.kind
    if plan.trains_generator:
        generator = train_generator_for(ctx, threat, plan, target)
        weights = ctx.attack_root / "generators" / threat / plan.id / "best" / WEIGHTS_NAME
        attack = STAANet(
            model, generator, **plan.budget, **({"targeted": True} if target is not None else {}), **plan.settings
        )
        return attack, {"generator": file_fingerprint(weights), **plan.settings}
    if issubclass(cls, MaskControl):  # the source attacker's generator, its v on control positions
        generator = train_generator_for(ctx, threat, plan_of(ctx.config, threat, str(plan.source)), target)
        weights = ctx.out / "generators" / threat / str(plan.source) / "best" / WEIGHTS_NAME
        attack = MaskControl(model, generator, **plan.budget, seed=ctx.seed, **plan.settings)
        return attack, {"generator": file_fingerprint(weights), **plan.settings}
    if issubclass(cls, FittedAttack):  # fitted by the attack itself: the universal perturbation
        attack = fit_universal_for(ctx, threat, plan, target)
        return attack, {"perturbation": file_fingerprint(ctx.attack_root / "generators" / threat / plan.id / PERTURBATION_FILE),
                        **plan.settings}  # fmt: skip
    if cls.control and plan.generator is not None:  # the authors' shift: a generator's output at ε = 0
        cfg = generator_config(plan)
        return cls(model, generator=Generator(cfg)), {"generator_config": cfg.to_dict()}
    if cls.control:
        return cls(model), {}
    if ctx.attack_seed is not None and accepts(plan.attack, "seed"):  # a repeat: the attack draws from its seed
        plan = replace(plan, settings={**plan.settings, "seed": ctx.attack_seed})
    return per_clip_attack(plan, model, targeted=target is not None), dict(plan.settings)


def attack_and_replay(ctx: ExperimentContext, threat: str, plan: AttackerPlan) -> list[dict[str, Any]]:
    """Craft (or reuse) ``plan`` on ``threat`` for every split and evaluate every victim: result rows."""
    if plan.target is not None and plan.target not in ctx.corpus.classes:
        raise ConfigError(f"attacker '{plan.id}': target '{plan.target}' is not a class of {ctx.corpus.name}")
    target = ctx.corpus.classes.index(plan.target) if plan.target is not None else None
    attack, identity = build_attack_for(ctx, threat, plan, target)
    perceptual = bool(ctx.config["report"]["perceptual"])
    rows = []
    for split_name in ctx.splits:
        split, indices = ctx.corpus.split(split_name), ctx.indices(split_name)
        directory = ctx.attack_root / "adversarial" / threat / plan.id / split_name
        ctx.log(f"attack: {threat} × {plan.label} × {split_name}: {len(indices)} clips")
        adv = ctx.craft_or_reuse(attack, directory, split_name, indices, identity=identity, threat_key=ctx.fingerprints[threat],
                                 target=target, meta={"threat": threat, "attacker": plan.id}, perceptual=perceptual)  # fmt: skip
        victims = {
            v: evaluate_victim(adv, split.waves, ctx.models[v], v, key=ctx.fingerprints[v], device=ctx.device)
            for v in ctx.config["victims"]
        }
        rows.append(
            {
                "threat": threat,
                "attacker": plan.id,
                "attack": plan.attack,
                "label": plan.label,
                "group": plan.group,
                "split": split_name,
                "targeted": target is not None,
                "target": plan.target,
                "adversarial_set": ctx.rel(directory),
                **transfer_row(adv, victims),
            }
        )
    return rows
