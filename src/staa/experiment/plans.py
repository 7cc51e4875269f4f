"""What an experiment builds, read from its configuration: attacker plans, SER models and their settings.

A plan is one row of the attack tables for one threat model — comparisons, then ablations (an
attacker with changed generator or training settings), then the control rows (no attack; the
authors' shift alone). Each plan carries everything its attack is built from, ε included, so that
every step and section builds attacks the same way: :func:`per_clip_attack` for the baselines,
:func:`generator_config` / :func:`train_config` for STAA-Net, :func:`universal_config` for the universal
perturbation. :func:`model_train_config` does the same for the SER models and adversarial training.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, fields
from typing import Any

from torch import nn

from staa.attacks.base import Attack, FittedAttack
from staa.attacks.registry import attack_class, build_attack
from staa.attacks.staa import GeneratorConfig, STAATrainConfig
from staa.attacks.universal import UniversalConfig
from staa.data.speech import Source, parse_sources
from staa.defaults import DEFAULT_EPS, DISTIL_STEPS, GENERATOR_PRESET, SER_RECIPE, TRAINING_PRESET
from staa.errors import ConfigError, first_line
from staa.models.registry import model_class
from staa.training.adversarial import AdvTrainConfig
from staa.training.generator import check_train_config
from staa.training.ser import TrainConfig
from staa.validation import check_arguments, check_fields

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # ids of models and attackers name output folders
ZERO_ID = "zero"
SHIFT_ID = "authors_shift"
MASK_CONTROLS = ("random", "comb")  # controls.<kind>_mask: the generator's v on other positions
MASK_CONTROL_SUFFIX = "_mask"


@dataclass
class AttackerPlan:
    """One row of the attack tables for one threat model: what to build, at which ε, and how to label it.

    The budget is ``eps`` (absolute) or ``eps_db`` (dB under each clip's peak, :mod:`staa.attacks.budget`);
    the other is None."""

    id: str
    attack: str
    label: str
    group: str  # comparison | ablation | control
    eps: float | None = DEFAULT_EPS
    settings: dict[str, Any] = field(default_factory=dict)
    target: str | None = None
    generator: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    fit: dict[str, Any] | None = None
    source: str | None = None  # a mask control: the STAA-Net attacker whose generator it reuses
    eps_db: float | None = None

    @property
    def budget(self) -> dict[str, float | None]:
        """``eps`` and ``eps_db`` as the attacks take them (one of the two None)."""
        return {"eps": self.eps, "eps_db": self.eps_db}

    @property
    def kind(self) -> type[Attack]:
        """The class of the plan's attack (internal ones included: the experiment builds its controls)."""
        return attack_class(self.attack, internal=True)

    @property
    def trains_generator(self) -> bool:
        """Whether the plan's attack is a generator trained for it (STAA-Net; not a control reusing one)."""
        return issubclass(self.kind, FittedAttack) and self.kind.fitted_state == "generator"

    @property
    def factorised_generator(self) -> bool:
        """A STAA-Net plan whose generator has positions to control (not the "w/o factorisation" ablation)."""
        return self.trains_generator and (self.generator or {}).get("factorised", True) is not False


def experiment_eps(config: dict[str, Any]) -> float:
    """The experiment's absolute ε (``eps``, default :data:`staa.defaults.DEFAULT_EPS`): adversarial training's bound."""
    eps = config.get("eps")
    return DEFAULT_EPS if eps is None else float(eps)


def budget_of(spec: dict[str, Any], default: dict[str, float | None]) -> dict[str, float | None]:
    """The L∞ budget of an experiment file's ``spec`` (its own ``eps`` or ``eps_db``, replacing ``default``
    as a whole), as the keywords ``eps`` and ``eps_db``; checked by :class:`~staa.attacks.budget.AmplitudeBudget`."""
    if spec.get("eps") is None and spec.get("eps_db") is None:
        return dict(default)
    return {"eps": spec.get("eps"), "eps_db": spec.get("eps_db")}


def experiment_budget(config: dict[str, Any]) -> dict[str, float | None]:
    """The experiment's budget: ``eps_db`` (relative) or ``eps`` (absolute, default :data:`staa.defaults.DEFAULT_EPS`)."""
    return budget_of(config, {"eps": DEFAULT_EPS, "eps_db": None})


def merge(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else in ``extra`` replaces ``base``."""
    out = copy.deepcopy(base)
    for k, v in (extra or {}).items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def attacker_plans(config: dict[str, Any], threat: str) -> list[AttackerPlan]:
    """The attackers of ``threat``: comparisons, then ablations, then the control rows."""
    budget = experiment_budget(config)
    overrides = (config.get("threat_overrides") or {}).get(threat) or {}
    attackers = {k: merge(v, overrides.get(k)) for k, v in config["attackers"].items() if v}
    plans = [
        AttackerPlan(aid, s["attack"], s.get("label", aid), "comparison", settings=s.get("settings") or {},
                     target=s.get("target"), generator=s.get("generator"), train=s.get("train"), fit=s.get("fit"),
                     **budget_of(s, budget))
        for aid, s in attackers.items()
    ]  # fmt: skip
    for aid, spec in (config.get("ablations") or {}).items():
        if not spec:
            continue
        spec = merge(spec, overrides.get(aid))
        base = attackers[spec["of"]]
        plans.append(
            AttackerPlan(
                aid,
                base["attack"],
                spec.get("label", aid),
                "ablation",
                settings=merge(base.get("settings") or {}, spec.get("settings")),
                target=base.get("target"),
                generator=merge(base.get("generator") or {}, spec.get("generator")),
                train=merge(base.get("train") or {}, spec.get("train")),
                fit=base.get("fit"),
                **budget_of(base, budget),
            )  # an ablation keeps the budget of the attacker it varies
        )
    plans.append(AttackerPlan(ZERO_ID, "zero", "No attack (δ = 0)", "control", **budget))
    shift = (config.get("controls") or {}).get("authors_shift", "auto")
    generators = [p for p in plans if p.trains_generator and p.group == "comparison"]
    authors = [p for p in generators if (p.generator or {}).get("alignment") == "authors"]
    if shift is not False and (authors or (generators and shift is True)):
        # the shift is a Wave-U-Net's padding (an adjoint generator has none): the first authors'-alignment
        # attacker's, else the first Wave-U-Net attacker's, else the fast preset's
        unets = [p for p in generators if generator_config(p).architecture == "wave-u-net"]
        padding = next((p.generator or {} for p in authors + unets), {"preset": "fast"})
        plans.append(
            AttackerPlan(
                SHIFT_ID,
                "zero",
                "Authors' shift alone (δ = 0)",
                "control",
                generator={**padding, "alignment": "authors"},
                **budget,
            )
        )
    return plans + mask_control_plans(config, generators)


def mask_control_plans(config: dict[str, Any], generators: list[AttackerPlan]) -> list[AttackerPlan]:
    """``controls.random_mask`` / ``controls.comb_mask`` (default on): per STAA-Net attacker, its generator's
    magnitudes on random or periodic positions of the same per-clip count (:mod:`staa.attacks.staa.controls`)."""
    controls = config.get("controls") or {}
    return [
        AttackerPlan(f"{g.id}-{kind}{MASK_CONTROL_SUFFIX}", "staa_mask_control",
                     f"{g.label}: {kind} positions (same v, same sparsity)", "control", g.eps, {"kind": kind},
                     g.target, g.generator, g.train, source=g.id, eps_db=g.eps_db)
        for g in generators if g.factorised_generator
        for kind in MASK_CONTROLS if controls.get(f"{kind}{MASK_CONTROL_SUFFIX}", True)
    ]  # fmt: skip


def plan_of(config: dict[str, Any], threat: str, attacker: str) -> AttackerPlan:
    """The plan of attacker id ``attacker`` on ``threat``."""
    return next(p for p in attacker_plans(config, threat) if p.id == attacker)


def per_clip_attack(plan: AttackerPlan, model: nn.Module, *, targeted: bool = False) -> Attack:
    """The baseline attack of ``plan`` (PGD, SparseFool, One-Pixel, zero) on ``model``, at the plan's ε."""
    return build_attack(plan.attack, model, **plan.budget, **({"targeted": True} if targeted else {}), **plan.settings)


def _checked(cls: type, spec: dict[str, Any], what: str) -> dict[str, Any]:
    """``spec`` after checking that every key names a field of the config dataclass ``cls``."""
    names = {f.name for f in fields(cls)}
    unknown = set(spec) - names
    if unknown:
        raise ConfigError(f"{what}: unknown settings {sorted(unknown)} (known: {', '.join(sorted(names))})")
    return spec


def generator_config(plan: AttackerPlan) -> GeneratorConfig:
    """``generator: {preset, ...}`` of a STAA-Net plan at its ε (preset default :data:`GENERATOR_PRESET`)."""
    spec = dict(plan.generator or {})
    preset = spec.pop("preset", GENERATOR_PRESET)
    spec = GeneratorConfig.renamed(spec)
    budget = {"eps": DEFAULT_EPS if plan.eps is None else plan.eps, "eps_db": plan.eps_db}  # eps unused under eps_db
    return GeneratorConfig.preset(preset, **{**budget, **_checked(GeneratorConfig, spec, "generator")})


def train_config(plan: AttackerPlan, seed: int, target: int | None) -> tuple[STAATrainConfig, dict[str, Any] | None]:
    """``train: {preset, budget, ...}`` of a STAA-Net plan: the trainer's config and the budget (or None)."""
    spec = dict(plan.train or {})
    preset, budget = spec.pop("preset", TRAINING_PRESET), spec.pop("budget", None)
    for key in ("data", "teacher", "distil_steps"):  # the training speech and the distillation: train_data, teacher_of
        spec.pop(key, None)
    extra: dict[str, Any] = {"seed": seed}
    if target is not None:
        extra.update(targeted=True, target_class=target)
    config = STAATrainConfig.preset(preset, **{**extra, **_checked(STAATrainConfig, spec, "generator training")})
    return check_train_config(config), budget


def train_data(plan: AttackerPlan) -> list[Source] | None:
    """``train: {data: [...]}`` of a STAA-Net plan: the sources of its training speech (None: the threat
    corpus's training split), checked (:func:`staa.data.speech.parse_sources`)."""
    data = (plan.train or {}).get("data")
    return None if data is None else parse_sources(data)


def teacher_of(config: dict[str, Any], threat: str, plan: AttackerPlan) -> tuple[AttackerPlan, int] | None:
    """``train: {teacher: <attacker>, distil_steps: N}`` of a STAA-Net plan: the attacker of the same threat
    whose trained adjoint generator this plan's generator is first distilled from (the ``shallow`` preset
    learns slowly from the attack loss alone), and for how many steps; None without a teacher."""
    spec = plan.train or {}
    name, steps = spec.get("teacher"), spec.get("distil_steps", DISTIL_STEPS)
    if name is None:
        if "distil_steps" in spec:
            raise ConfigError("train.distil_steps needs train.teacher, the attacker to distil from")
        return None
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"train.distil_steps must be a positive integer, got {steps!r}")
    plans = {p.id: p for p in attacker_plans(config, threat) if p.trains_generator and p.id != plan.id}
    teacher = plans.get(str(name))
    if teacher is None:
        raise ConfigError(f"train.teacher: {name!r} is no other STAA-Net attacker of this experiment "
                          f"(have: {', '.join(sorted(plans)) or 'none'})")  # fmt: skip
    if generator_config(teacher).architecture != "adjoint" or teacher_of(config, threat, teacher) is not None:
        raise ConfigError(f"train.teacher: attacker {name!r} must train an adjoint generator without a teacher")
    return teacher, steps


def universal_config(plan: AttackerPlan, seed: int) -> UniversalConfig:
    """``fit: {...}`` of a universal-perturbation plan: the optimisation of δ."""
    return UniversalConfig(**{"seed": seed, **_checked(UniversalConfig, dict(plan.fit or {}), "universal fit")})


def model_train_config(config: dict[str, Any], name: str, seed: int) -> TrainConfig:
    """SER training of ``models.<name>``: :class:`TrainConfig`, or :class:`AdvTrainConfig` with ``adversarial``.

    ``recipe`` names the SER recipe (:meth:`TrainConfig.preset`: ``paper``, the default, or ``small_corpus``)
    and ``recipe_settings`` changes some of its fields (``patience``, ``augment``, …); epochs and learning
    rate default to the recipe's for the architecture; adversarial training's ε defaults to the experiment's, and its
    ``settings`` extend the library's inner-attack defaults (:meth:`AdvTrainConfig.with_attack`).
    """
    spec = config["models"][name]
    given = {
        k: cast(spec[k]) for k, cast in (("epochs", int), ("lr", float), ("batch_size", int)) if spec.get(k) is not None
    }
    recipe = spec.get("recipe", SER_RECIPE)  # YAML reads 1e-3 (no dot) as text: hence the casts
    base = TrainConfig.preset(
        recipe, model_class(spec["arch"]), seed=seed, **given, **(spec.get("recipe_settings") or {})
    )
    adversarial = spec.get("adversarial")
    if adversarial is None:
        return base
    if recipe != SER_RECIPE:
        raise ConfigError(f"recipe '{recipe}' cannot be combined with adversarial training (it takes the paper's)")
    common = {f.name: getattr(base, f.name) for f in fields(TrainConfig)}
    return AdvTrainConfig.with_attack(
        adversarial.get("attack", AdvTrainConfig.attack), adversarial.get("settings"), **common,
        eps=float(adversarial.get("eps", experiment_eps(config))),
        adv_fraction=float(adversarial.get("adv_fraction", 0.5)),
    )  # fmt: skip


PRETRAIN_KEYS = {"corpora", "epochs", "seconds"}


def corpus_folders(value: Any, key: str) -> dict[str, str | None]:
    """``{name: folder}`` of a setting that names other corpora (``pretrain.corpora``, ``cross_corpus.corpora``):
    a non-empty mapping, every named corpus with its folder (a manifest's ``.csv`` and the synthetic corpus
    need none); ``key`` names the setting in the one-line error."""
    if not isinstance(value, dict) or not value or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{key}: a mapping of corpus name to folder (e.g. {{ravdess: /data/ravdess}})")
    if missing := [k for k, v in value.items() if not v and not k.endswith(".csv") and k != "synthetic"]:
        raise ConfigError(f"{key}.{missing[0]} needs its folder: --set {key}.{missing[0]}=/path/to/{missing[0]}")
    return {k: (str(v) if v else None) for k, v in value.items()}


def pretrain_settings(config: dict[str, Any], name: str) -> dict[str, Any] | None:
    """``models.<name>.pretrain``: the pooled corpora (the experiment's corpus first, its training speakers only),
    the pre-training epochs (default :meth:`TrainConfig.pooled`'s) and clip length; None when not asked.

    Only a model trained from scratch on a corpus of audio files can be pre-trained so: a foundation model
    brings its own pre-training, an adversarial fine-tuning starts from another model of the experiment.
    """
    spec = config["models"][name]
    pre = spec.get("pretrain")
    if pre is None:
        return None
    if not isinstance(pre, dict) or set(pre) - PRETRAIN_KEYS:
        raise ConfigError(f"pretrain: a mapping of {', '.join(sorted(PRETRAIN_KEYS))}, got {pre!r}")
    corpora = corpus_folders(pre.get("corpora"), f"models.{name}.pretrain.corpora")
    if "synthetic" in corpora:
        raise ConfigError("pretrain.corpora: the synthetic corpus has no audio files to pool")
    corpus = config["corpus"]
    if corpus["name"] == "synthetic" or corpus["name"] in corpora:
        raise ConfigError(f"pretrain: pools audio files with the experiment's corpus; not with '{corpus['name']}'")
    if model_class(spec["arch"]).fine_tunes_pretrained or spec.get("adversarial") is not None:
        raise ConfigError("pretrain: for models trained from scratch (not a foundation model or adversarial training)")
    roots = {corpus["name"]: corpus.get("root"), **corpora}
    return {"roots": roots, "train_only": [corpus["name"]], "epochs": pre.get("epochs"),
            "seconds": float(pre.get("seconds", 3.0))}  # fmt: skip


def check_buildable(config: dict[str, Any]) -> None:
    """Build, without weights or data, every model's training config and options and every attacker's
    attack and configs, so that a value they cannot use is refused before the first step, not after
    minutes of training (raises :class:`ConfigError` naming the model or attacker)."""
    seed = config["seed"]
    for name in needed_models(config):
        spec = config["models"][name]
        try:
            for key in ("epochs", "batch_size"):
                if spec.get(key) is not None and (isinstance(spec[key], bool) or not isinstance(spec[key], int)):
                    raise ConfigError(f"{key}: must be an integer, got {spec[key]!r}")
            options = spec.get("options") or {}
            for key, value in (("options", options), ("recipe_settings", spec.get("recipe_settings") or {})):
                if not isinstance(value, dict):
                    raise ConfigError(f"{key} must be a mapping, got {value!r}")
            cls = model_class(spec.get("arch"))
            check_fields(cls.config_class, options)
            _checked(cls.config_class, options, "options")
            model_train_config(config, name, seed)
            pre = pretrain_settings(config, name)
            if pre is not None:
                TrainConfig.pooled(epochs=pre["epochs"], seed=seed)
        except (ConfigError, TypeError, ValueError) as exc:
            problem = first_line(exc)  # named already when it gives the full key to --set
            raise ConfigError(
                problem if problem.startswith(f"models.{name}.") else f"models.{name}: {problem}"
            ) from None
    for threat in config["threat_models"]:
        for plan in attacker_plans(config, threat):
            try:
                _build_plan(plan, seed)
                if plan.trains_generator:
                    teacher_of(config, threat, plan)
            except (ConfigError, TypeError, ValueError) as exc:
                raise ConfigError(f"attacker '{plan.id}': {first_line(exc)}") from None


def _build_plan(plan: AttackerPlan, seed: int) -> None:
    """The configs of ``plan`` and, for the per-clip baselines, its attack on a stand-in model."""
    for key in ("settings", "generator", "train", "fit"):
        if not isinstance(getattr(plan, key) or {}, dict):
            raise ConfigError(f"{key} must be a mapping, got {getattr(plan, key)!r}")
    cls = plan.kind
    check_arguments(cls.__init__, plan.settings, "settings")
    if plan.trains_generator or plan.generator is not None:
        generator_config(plan)
    if plan.trains_generator:
        train_config(plan, seed, None)
        train_data(plan)
    elif issubclass(cls, FittedAttack):  # fitted by the attack itself (the universal perturbation)
        universal_config(plan, seed)
        cls(nn.Module(), **plan.budget, **plan.settings)
    elif not cls.control:  # a control is built from what it controls (δ = 0; a trained generator)
        per_clip_attack(plan, nn.Module())


def needed_models(config: dict[str, Any]) -> list[str]:
    """Models to train, in file order, each after the model it fine-tunes from: threat models, victims,
    defended victims and their ``adversarial.from`` sources."""
    models = config["models"]
    used = {*config["threat_models"], *config["victims"], *((config.get("defenses") or {}).get("victims") or [])}
    order: list[str] = []

    def add(name: str) -> None:
        source = (models[name].get("adversarial") or {}).get("from")
        if source is not None:
            add(source)
        if name not in order:
            order.append(name)

    for name in models:
        if name in used:
            add(name)
    return order
