"""One-command experiments: a YAML file → prepare → SER models → generators → attacks → transfer → report.

``run_experiment(load_config("demo"), "runs/demo")`` (or ``staa run demo --out runs/demo``) performs every
step of the paper's evaluation and writes, under the output folder::

    experiment.yaml                      the resolved configuration (after --set overrides)
    cache/                               the prepared corpus (unless ``corpus.cache`` points elsewhere)
    models/<model>/                      SER checkpoint (best/), training log, eval.json (per split)
    generators/<threat>/<attacker>/      trained STAA-Net generators (best/, train.json) and fitted
                                         universal perturbations (perturbation.safetensors, fit.json)
    adversarial/<threat>/<attacker>/<split>/   crafted audio, per-example records, per-victim results
    robustness/<victim>/<defence>/<attacker>/<split>/   adaptive attacks crafted through a defence
    targeted/<threat>/<attacker>/<split>/<class>/       targeted attacks, one set per target class
    results.json  tables/  figures/  audio/  report.html

Every step first looks for its outputs and skips the work when they exist; every output is written
atomically, and long steps (SER training, generator training, crafting) resume from their last finished
epoch or chunk, so a killed run started again ends with the same numbers (timings aside). Each step
folder holds a ``spec.json`` with the settings that made it: rerunning with other settings into the same
folder is refused rather than silently mixing results.

Configuration (see the shipped ``staa/configs/*.yaml``; every key can be overridden with
``--set dotted.key=value``, the value parsed as YAML)::

    name, seed, device, eps, splits, max_examples
    corpus: {name, root, seconds, cache (a folder inside the output folder), options}
    models: {<id>: {arch, label, epochs, lr, batch_size, options, adversarial}}
        adversarial: {from: <model id>, attack, eps, settings, adv_fraction}   adversarial training
                     (fine-tunes the trained model ``from``; without it, trains from scratch)
    threat_models: [<id>, ...]         victims: [<id>, ...]
    attackers: {<id>: {attack, label, settings, target, generator, train, fit}}
        generator/train: STAA-Net; train.budget: {sparsity_pct | snr_db, update, lr, damping}
                     (λ adapted during training, staa.experiment_budgets)
        fit: the universal perturbation's optimisation (staa.attacks.universal.UniversalConfig)
    ablations: {<id>: {of: <attacker id>, label, generator, train}}          (Table 6 variants)
    threat_overrides: {<threat>: {<attacker or ablation id>: {settings, generator, train}}}
    controls: {authors_shift: auto | true | false}
    defenses: {pipelines: {<id>: "median:kernel=5+quantize:bits=8"}, victims, attackers, adaptive,
               eot_samples, split}       robust accuracy of defended victims (staa.experiment_robustness)
    targeted: {attackers, classes: all | [<class>, ...], split}   success per target class
                                         (staa.experiment_targeted)
    report: {examples, perceptual, chunk_size}
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from staa.data.base import SPLITS
from staa.defaults import DEFAULT_EPS, GENERATOR_PRESET, TRAINING_PRESET
from staa.errors import ConfigError
from staa.outputs import write_json, write_text
from staa.paths import resolve_inside

BUILTIN = ("demo", "emodb", "demos", "iemocap")
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # ids of models and attackers name output folders
ZERO_ID = "zero"
SHIFT_ID = "authors_shift"


# ---- configuration --------------------------------------------------------------------------------
def builtin_path(name: str) -> Path:
    return Path(str(resources.files("staa") / "configs" / f"{name}.yaml"))


def load_config(spec: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read a built-in experiment (``demo``, ``emodb``, ``demos``, ``iemocap``) or a YAML file; apply overrides."""
    path = builtin_path(str(spec)) if str(spec) in BUILTIN else Path(spec)
    if not path.exists():
        raise ConfigError(f"no such experiment file (built-in experiments: {', '.join(BUILTIN)})", path)
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML ({' '.join(str(exc).split())[:160]})", path) from None
    if not isinstance(config, dict):
        raise ConfigError("an experiment file must be a YAML mapping", path)
    for item in overrides:
        apply_override(config, item)
    validate(config, path)
    return config


def apply_override(config: dict[str, Any], item: str) -> None:
    """``a.b.c=value``: set a nested key (creating mappings on the way); ``value`` is parsed as YAML."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override '{item}' is not of the form key=value")
    try:
        value = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError:
        value = raw
    node = config
    *parents, last = key.split(".")
    for part in parents:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override '{item}': '{part}' is not a mapping")
        node = child
    node[last] = value


def validate(config: dict[str, Any], path: Path | str) -> None:
    """Check the experiment's structure and references up front, one line per problem."""
    allowed = {"name", "seed", "device", "eps", "splits", "max_examples", "corpus", "models", "threat_models",
               "victims", "attackers", "ablations", "threat_overrides", "controls", "report", "defenses", "targeted"}
    unknown = set(config) - allowed
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)} (allowed: {', '.join(sorted(allowed))})", path)
    for key in ("name", "corpus", "models", "threat_models", "victims", "attackers"):
        if not config.get(key):
            raise ConfigError(f"'{key}' is missing or empty", path)
    if not isinstance(config["corpus"], dict) or not config["corpus"].get("name"):
        raise ConfigError("corpus.name is missing", path)
    eps = config.get("eps", DEFAULT_EPS)
    if not isinstance(eps, (int, float)) or not 0 < eps <= 1:
        raise ConfigError(f"eps must be a number in (0, 1], got {eps!r}", path)
    bad = [s for s in config.get("splits", ["val", "test"]) if s not in SPLITS]
    if bad:
        raise ConfigError(f"unknown splits {bad} (expected train, val, test)", path)
    models = config["models"]
    for section in ("models", "attackers", "ablations"):
        for name in config.get(section) or {}:
            reserved = section != "models" and name in (ZERO_ID, SHIFT_ID)
            if not isinstance(name, str) or not ID.fullmatch(name) or reserved:
                raise ConfigError(
                    f"{section}: '{name}' is not a valid id (letters, digits, '_' and '-'; ids name output "
                    f"folders, and '{ZERO_ID}'/'{SHIFT_ID}' are reserved for the control rows)",
                    path,
                )
    for name in (*config["threat_models"], *config["victims"]):
        if name not in models or not models[name]:
            raise ConfigError(f"model '{name}' is used but not defined under 'models'", path)
    from staa.attacks.registry import ATTACKS

    from staa.experiment_budgets import validate_budget

    for name, spec in models.items():
        _validate_adversarial(name, (spec or {}).get("adversarial"), models, path)
    attackers = {k: v for k, v in config["attackers"].items() if v}
    for aid, spec in attackers.items():
        if spec.get("attack") not in ATTACKS:
            raise ConfigError(f"attacker '{aid}': unknown attack {spec.get('attack')!r} (available: {', '.join(ATTACKS)})", path)
        validate_budget(aid, (spec.get("train") or {}).get("budget"), path)
    for aid, spec in (config.get("ablations") or {}).items():
        if spec and spec.get("of") not in attackers:
            raise ConfigError(f"ablation '{aid}': 'of' must name an attacker, got {spec.get('of')!r}", path)
    shift = (config.get("controls") or {}).get("authors_shift", "auto")
    if shift not in ("auto", True, False):
        raise ConfigError(f"controls.authors_shift must be auto, true or false, got {shift!r}", path)
    from staa.experiment_robustness import validate_defences
    from staa.experiment_targeted import validate_targeted

    validate_defences(config, path)
    validate_targeted(config, path)


ADVERSARIAL_KEYS = {"from", "attack", "eps", "settings", "adv_fraction"}


def _validate_adversarial(name: str, spec: Any, models: dict[str, Any], path: Path | str) -> None:
    """``models.<id>.adversarial``: known keys, a known attack, and ``from`` naming another model (no cycle)."""
    if spec is None:
        return
    from staa.attacks.registry import ATTACKS

    where = f"models.{name}.adversarial"
    if not isinstance(spec, dict) or set(spec) - ADVERSARIAL_KEYS:
        raise ConfigError(f"{where} must be a mapping with keys among {', '.join(sorted(ADVERSARIAL_KEYS))}", path)
    if spec.get("attack", "pgd") not in ATTACKS:
        raise ConfigError(f"{where}: unknown attack {spec.get('attack')!r} (available: {', '.join(ATTACKS)})", path)
    seen = [name]
    while (source := ((models.get(seen[-1]) or {}).get("adversarial") or {}).get("from")) is not None:
        if source not in models or not models[source]:
            raise ConfigError(f"{where}: 'from' names model '{source}', which is not defined under 'models'", path)
        if source in seen:
            raise ConfigError(f"{where}: 'from' chain {' → '.join([*seen, source])} is a cycle", path)
        seen.append(source)
    source = spec.get("from")
    if source is not None and models[source].get("arch") != models[name].get("arch"):
        raise ConfigError(f"{where}: fine-tuning needs the same arch as '{source}' ({models[source].get('arch')})", path)


def _merge(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else in ``extra`` replaces ``base``."""
    out = copy.deepcopy(base)
    for k, v in (extra or {}).items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


@dataclass
class AttackerPlan:
    """One row of the attack tables for one threat model: what to build and how to label it."""

    id: str
    attack: str
    label: str
    group: str  # comparison | ablation | control
    settings: dict[str, Any] = field(default_factory=dict)
    target: str | None = None
    generator: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    fit: dict[str, Any] | None = None


def attacker_plans(config: dict[str, Any], threat: str) -> list[AttackerPlan]:
    """The attackers of ``threat``: comparisons, then ablations, then the control rows."""
    overrides = (config.get("threat_overrides") or {}).get(threat) or {}
    attackers = {k: _merge(v, overrides.get(k)) for k, v in config["attackers"].items() if v}
    plans = [
        AttackerPlan(aid, s["attack"], s.get("label", aid), "comparison", s.get("settings") or {}, s.get("target"),
                     s.get("generator"), s.get("train"), s.get("fit"))
        for aid, s in attackers.items()
    ]
    for aid, spec in (config.get("ablations") or {}).items():
        if not spec:
            continue
        spec = _merge(spec, overrides.get(aid))
        base = attackers[spec["of"]]
        plans.append(
            AttackerPlan(aid, base["attack"], spec.get("label", aid), "ablation",
                         _merge(base.get("settings") or {}, spec.get("settings")), base.get("target"),
                         _merge(base.get("generator") or {}, spec.get("generator")),
                         _merge(base.get("train") or {}, spec.get("train")), base.get("fit"))
        )
    plans.append(AttackerPlan(ZERO_ID, "zero", "No attack (δ = 0)", "control"))
    shift = (config.get("controls") or {}).get("authors_shift", "auto")
    generators = [p for p in plans if p.attack == "staa" and p.group == "comparison"]
    authors = [p for p in generators if (p.generator or {}).get("alignment") == "authors"]
    source = authors[0] if authors else (generators[0] if generators and shift is True else None)
    if shift is not False and source is not None:
        plans.append(
            AttackerPlan(SHIFT_ID, "zero", "Authors' shift alone (δ = 0)", "control",
                         generator={**(source.generator or {}), "alignment": "authors"})
        )
    return plans


def _checked_settings(cls: type, spec: dict[str, Any], what: str) -> dict[str, Any]:
    """``spec`` after checking that every key names a field of the config dataclass ``cls``."""
    names = {f.name for f in fields(cls)}
    unknown = set(spec) - names
    if unknown:
        raise ConfigError(f"{what}: unknown settings {sorted(unknown)} (known: {', '.join(sorted(names))})")
    return spec


def generator_config(spec: dict[str, Any] | None, eps: float) -> Any:
    """``generator: {preset, ...}`` → :class:`GeneratorConfig` (preset default: :data:`GENERATOR_PRESET`)."""
    from staa.attacks.staa import GeneratorConfig

    spec = dict(spec or {})
    preset = spec.pop("preset", GENERATOR_PRESET)
    return GeneratorConfig.preset(preset, **{"eps": eps, **_checked_settings(GeneratorConfig, spec, "generator")})


def universal_config(spec: dict[str, Any] | None, seed: int) -> Any:
    from staa.attacks.universal import UniversalConfig

    return UniversalConfig(**{"seed": seed, **_checked_settings(UniversalConfig, dict(spec or {}), "universal fit")})


def model_train_config(spec: dict[str, Any], seed: int, eps: float) -> Any:
    """SER training settings of a model entry: :class:`TrainConfig`, or :class:`AdvTrainConfig` with ``adversarial``.

    An adversarial entry's ``settings`` extend the library's inner-attack defaults (cross-entropy, no
    early stop) when the attack is the default one, so a YAML file only names what it changes.
    """
    from staa.adversarial_training import AdvTrainConfig
    from staa.train import TrainConfig

    common = {"epochs": int(spec.get("epochs", 30)), "lr": float(spec.get("lr", 1e-3)),
              "batch_size": int(spec.get("batch_size", 8)), "seed": seed}
    adversarial = spec.get("adversarial")
    if adversarial is None:
        return TrainConfig(**common)
    attack = adversarial.get("attack", AdvTrainConfig.attack)
    defaults = AdvTrainConfig().attack_options if attack == AdvTrainConfig.attack else {}
    return AdvTrainConfig(**common, attack=attack, eps=float(adversarial.get("eps", eps)),
                          attack_options={**defaults, **(adversarial.get("settings") or {})},
                          adv_fraction=float(adversarial.get("adv_fraction", 0.5)))


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


def train_config(spec: dict[str, Any] | None, seed: int, target: int | None) -> Any:
    """``train: {preset, ...}`` → :class:`STAATrainConfig` (preset default: :data:`TRAINING_PRESET`)."""
    from staa.attacks.staa import STAATrainConfig

    spec = dict(spec or {})
    preset = spec.pop("preset", TRAINING_PRESET)
    extra: dict[str, Any] = {"seed": seed}
    if target is not None:
        extra.update(targeted=True, target_class=target)
    return STAATrainConfig.preset(preset, **{**extra, **_checked_settings(STAATrainConfig, spec, "generator training")})


# ---- running ----------------------------------------------------------------------------------------
def _claim(directory: Path, spec: dict[str, Any]) -> None:
    """Record the settings behind a step's outputs; refuse to reuse outputs made with other settings."""
    spec = json.loads(json.dumps(spec, default=str))
    path = directory / "spec.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old != spec:
            changed = sorted(k for k in set(old) | set(spec) if old.get(k) != spec.get(k))
            raise ConfigError(
                f"outputs here were made with other settings ({', '.join(changed)}); "
                "delete this folder or use another --out",
                directory,
            )
    else:
        write_json(path, spec)


@dataclass
class Context:
    """What every step needs: the config, the output folder, the prepared corpus and the log."""

    config: dict[str, Any]
    out: Path
    device: str
    show_progress: bool
    log: Callable[[str], None]
    corpus: Any = None
    models: dict[str, Any] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    @property
    def eps(self) -> float:
        return float(self.config.get("eps", DEFAULT_EPS))

    @property
    def splits(self) -> list[str]:
        return list(self.config.get("splits", ["val", "test"]))

    def rel(self, path: Path) -> str:
        return path.relative_to(self.out).as_posix()


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_experiment(
    config: dict[str, Any],
    out_dir: str | Path,
    *,
    device: str | None = None,
    show_progress: bool = True,
    log: Callable[[str], None] = _stderr,
) -> Path:
    """Run (or finish) the experiment into ``out_dir``; return the path of ``report.html``."""
    import torch

    from staa.reproducibility import seed_everything

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(config, out, device or config.get("device", "cpu"), show_progress, log)
    if ctx.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{ctx.device}' requested but CUDA is not available")
    write_text(out / "experiment.yaml", yaml.safe_dump(config, sort_keys=False))
    seed_everything(ctx.seed)
    _prepare(ctx)
    for name in needed_models(config):
        _ser_model(ctx, name)
    rows = []
    for threat in config["threat_models"]:
        for plan in attacker_plans(config, threat):
            rows += _attack(ctx, threat, plan)
    from staa.experiment_budgets import budgets
    from staa.experiment_robustness import robustness
    from staa.experiment_targeted import targeted

    sections = {"robustness": robustness(ctx), "targeted": targeted(ctx), "budgets": budgets(ctx)}
    return _report(ctx, rows, sections)


def _prepare(ctx: Context) -> None:
    from staa.data.cache import prepare
    from staa.data.registry import build_corpus

    spec = ctx.config["corpus"]
    root = spec.get("root")
    if spec["name"] not in ("synthetic",) and not str(spec["name"]).endswith(".csv") and not root:
        raise ConfigError(f"corpus '{spec['name']}' needs its folder: add --set corpus.root=/path/to/{spec['name']}")
    corpus = build_corpus(spec["name"], root, **(spec.get("options") or {}))
    cache = resolve_inside(ctx.out, spec.get("cache") or "cache", what="corpus.cache")
    ctx.log(f"corpus: preparing {corpus.name} (cache {cache})")
    ctx.corpus = prepare(corpus, cache, seconds=spec.get("seconds"), show_progress=ctx.show_progress)


def _ser_model(ctx: Context, name: str) -> None:
    """Train (or reuse) one SER model and evaluate it on every reported split (or reuse eval.json)."""
    from staa.adversarial_training import adversarial_train
    from staa.evaluation.transfer import file_fingerprint
    from staa.models import build_model, load_model
    from staa.models.base import WEIGHTS_NAME
    from staa.reproducibility import provenance, seed_everything
    from staa.train import evaluate_ser, train_ser

    spec = ctx.config["models"][name]
    directory = ctx.out / "models" / name
    train_cfg = model_train_config(spec, ctx.seed, ctx.eps)
    source = (spec.get("adversarial") or {}).get("from")
    claim = {"arch": spec["arch"], "options": spec.get("options") or {}, "train": asdict(train_cfg), "corpus": ctx.corpus.path.name}
    _claim(directory, {**claim, **({"from": ctx.fingerprints[source]} if source else {})})
    if (directory / "train.json").exists():
        ctx.log(f"SER model {name}: reusing {directory / 'best'}")
    else:
        adversarial = spec.get("adversarial") is not None
        ctx.log(f"SER model {name}: {'adversarially ' if adversarial else ''}training {spec['arch']} for "
                f"{train_cfg.epochs} epochs" + (f", starting from {source}" if source else ""))
        if source:
            model = load_model(ctx.out / "models" / source / "best")
        else:
            seed_everything(ctx.seed)  # initial weights fixed by the seed alone, not by which steps ran before
            model = build_model(spec["arch"], num_classes=len(ctx.corpus.classes), class_names=ctx.corpus.classes,
                                **(spec.get("options") or {}))
        train = adversarial_train if adversarial else train_ser
        train(model, ctx.corpus, directory, train_cfg, device=ctx.device, show_progress=ctx.show_progress)
    model = load_model(directory / "best").to(ctx.device).eval()
    ctx.models[name] = model
    ctx.fingerprints[name] = file_fingerprint(directory / "best" / WEIGHTS_NAME)
    eval_path = directory / "eval.json"
    evaluation = json.loads(eval_path.read_text()) if eval_path.exists() else {}
    if evaluation.get("key") != ctx.fingerprints[name] or set(evaluation.get("splits", {})) < set(ctx.splits):
        splits = {s: evaluate_ser(model, ctx.corpus.split(s), device=ctx.device) for s in ctx.splits}
        write_json(eval_path, {"key": ctx.fingerprints[name], "corpus": ctx.corpus.name, "splits": splits, "provenance": provenance()})


def _generator(ctx: Context, threat: str, plan: AttackerPlan, target: int | None) -> Any:
    """Train (or reuse) the STAA-Net generator of ``plan`` against ``threat``; return it loaded."""
    from staa.attacks.staa import Generator, train_generator
    from staa.experiment_budgets import budget_callbacks
    from staa.reproducibility import seed_everything

    gen_cfg = generator_config(plan.generator, ctx.eps)
    train_spec = dict(plan.train or {})
    budget = train_spec.pop("budget", None)
    train_cfg = train_config(train_spec, ctx.seed, target)
    directory = ctx.out / "generators" / threat / plan.id
    _claim(directory, {"generator": gen_cfg.to_dict(), "train": asdict(train_cfg), "threat": ctx.fingerprints[threat],
                       **({"budget": budget} if budget else {})})
    if (directory / "train.json").exists():
        ctx.log(f"generator {threat}/{plan.id}: reusing {directory / 'best'}")
    else:
        ctx.log(f"generator {threat}/{plan.id}: training for {train_cfg.epochs} epochs")
        seed_everything(ctx.seed)  # same initial weights whatever ran before (a resumed run, other attackers)
        train_generator(Generator(gen_cfg), [ctx.models[threat]], ctx.corpus, directory, train_cfg,
                        device=ctx.device, show_progress=ctx.show_progress, callbacks=budget_callbacks(budget))
    return Generator.from_pretrained(directory / "best")


def _universal(ctx: Context, threat: str, plan: AttackerPlan, target: int | None) -> tuple[Any, dict[str, Any]]:
    """Fit (or reuse) the universal perturbation of ``plan`` on the training split against ``threat``."""
    import torch

    from staa.attacks.universal import UniversalPerturbation
    from staa.evaluation.transfer import file_fingerprint
    from staa.reproducibility import provenance

    model, fit_cfg = ctx.models[threat], universal_config(plan.fit, ctx.seed)
    directory = ctx.out / "generators" / threat / plan.id
    path = directory / "perturbation.safetensors"
    _claim(directory, {"settings": plan.settings, "fit": asdict(fit_cfg), "eps": ctx.eps, "target": target,
                       "threat": ctx.fingerprints[threat], "corpus": ctx.corpus.path.name})
    if (directory / "fit.json").exists():
        ctx.log(f"universal perturbation {threat}/{plan.id}: reusing {path}")
    else:
        train = ctx.corpus.split("train")
        ctx.log(f"universal perturbation {threat}/{plan.id}: fitting on {len(train)} training clips for {fit_cfg.epochs} epochs")
        attack = UniversalPerturbation(model, ctx.eps, targeted=target is not None, **plan.settings)
        history = attack.fit(torch.from_numpy(np.array(train.waves, dtype=np.float32)), target=target, config=fit_cfg)
        attack.save(path)
        write_json(directory / "fit.json", {"history": history, "fit_config": asdict(fit_cfg),
                                            "provenance": provenance({"settings": plan.settings}, ctx.seed)})
    return UniversalPerturbation.from_file(model, path), {"perturbation": file_fingerprint(path), **plan.settings}


def _build_attack(ctx: Context, threat: str, plan: AttackerPlan, target: int | None) -> tuple[Any, dict[str, Any]]:
    """The attack object of ``plan`` and the settings that identify its outputs."""
    from staa.attacks.registry import build_attack

    model = ctx.models[threat]
    targeting = {"targeted": True} if target is not None else {}
    if plan.attack == "staa":
        from staa.attacks.staa import STAANet
        from staa.evaluation.transfer import file_fingerprint
        from staa.models.base import WEIGHTS_NAME

        generator = _generator(ctx, threat, plan, target)
        directory = ctx.out / "generators" / threat / plan.id / "best"
        attack = STAANet(model, generator, eps=ctx.eps, **targeting, **plan.settings)
        return attack, {"generator": file_fingerprint(directory / WEIGHTS_NAME), **plan.settings}
    if plan.attack == "universal":
        return _universal(ctx, threat, plan, target)
    if plan.attack == "zero" and plan.generator is None:
        return build_attack("zero", model), {}
    if plan.attack == "zero":  # the authors' shift: a generator's output at ε = 0, so its weights play no part
        from staa.attacks.staa import Generator

        cfg = generator_config(plan.generator, ctx.eps)
        return build_attack("zero", model, generator=Generator(cfg)), {"generator_config": cfg.to_dict()}
    return build_attack(plan.attack, model, eps=ctx.eps, **targeting, **plan.settings), dict(plan.settings)


def _indices(ctx: Context, n: int, split: str) -> np.ndarray:
    """All rows, or a seeded subset of ``max_examples`` rows (sorted) when the experiment caps them."""
    cap = ctx.config.get("max_examples")
    if not cap or cap >= n:
        return np.arange(n)
    rng = np.random.default_rng([ctx.seed, SPLITS.index(split)])
    return np.sort(rng.choice(n, int(cap), replace=False))


def craft_set(
    ctx: Context,
    attack: Any,
    name: str,
    directory: Path,
    split_name: str,
    indices: np.ndarray,
    *,
    identity: dict[str, Any],
    threat_key: str,
    target: int | None,
    meta: dict[str, Any],
    perceptual: bool,
) -> Any:
    """Claim ``directory`` for these settings, then craft (or reuse, or resume) one adversarial set.

    ``threat_key`` identifies the weights the attack differentiates (a fingerprint), ``identity`` its settings.
    """
    from staa.evaluation.transfer import craft

    split = ctx.corpus.split(split_name)
    chunk = int((ctx.config.get("report") or {}).get("chunk_size", 8))
    _claim(directory, {"attack": name, "settings": identity, "eps": attack.eps, "target": target,
                       "threat": threat_key, "indices": indices.tolist(), "seed": ctx.seed, "chunk_size": chunk})
    return craft(attack, split.waves, split.labels, indices, directory, items=split.items, target=target,
                 chunk_size=chunk, seed=ctx.seed, perceptual=perceptual, sample_rate=ctx.corpus.sample_rate,
                 meta={**meta, "split": split_name}, show_progress=ctx.show_progress)


def delta_measures(adv: Any, waves: np.ndarray) -> tuple[Any, Any]:
    """Per-clip SNR (dB) and sparsity (%) of δ = x_adv − x of an adversarial set, recomputed from its audio."""
    import torch

    from staa.metrics import snr_db, sparsity

    clean = torch.from_numpy(np.asarray(waves[adv.indices], dtype=np.float32))
    delta = torch.from_numpy(np.array(adv.x_adv, dtype=np.float32)) - clean
    return snr_db(clean, delta), sparsity(delta)


def _attack(ctx: Context, threat: str, plan: AttackerPlan) -> list[dict[str, Any]]:
    """Craft (or reuse) ``plan`` on ``threat`` for every split and evaluate every victim: result rows."""
    from staa.evaluation.transfer import evaluate_victim, transfer_row

    report = ctx.config.get("report") or {}
    target = ctx.corpus.classes.index(plan.target) if plan.target is not None else None
    if plan.target is not None and plan.target not in ctx.corpus.classes:
        raise ConfigError(f"attacker '{plan.id}': target '{plan.target}' is not a class of {ctx.corpus.name}")
    attack, identity = _build_attack(ctx, threat, plan, target)
    rows = []
    for split_name in ctx.splits:
        split = ctx.corpus.split(split_name)
        indices = _indices(ctx, len(split), split_name)
        directory = ctx.out / "adversarial" / threat / plan.id / split_name
        ctx.log(f"attack: {threat} × {plan.label} × {split_name}: {len(indices)} clips")
        adv = craft_set(ctx, attack, plan.attack, directory, split_name, indices, identity=identity,
                        threat_key=ctx.fingerprints[threat], target=target, meta={"threat": threat, "attacker": plan.id},
                        perceptual=bool(report.get("perceptual", True)))
        victims = {
            v: evaluate_victim(adv, split.waves, ctx.models[v], v, key=ctx.fingerprints[v], device=ctx.device)
            for v in ctx.config["victims"]
        }
        rows.append({"threat": threat, "attacker": plan.id, "attack": plan.attack, "label": plan.label, "group": plan.group,
                     "split": split_name, "targeted": target is not None, "target": plan.target,
                     "adversarial_set": ctx.rel(directory), **transfer_row(adv, victims)})
    return rows


def _results(ctx: Context, rows: list[dict[str, Any]]) -> dict[str, Any]:
    from staa.reproducibility import provenance

    models = {}
    for name, spec in ctx.config["models"].items():
        if name not in ctx.models:
            continue
        evaluation = json.loads((ctx.out / "models" / name / "eval.json").read_text())
        models[name] = {
            "label": spec.get("label", name),
            "arch": spec["arch"],
            "adversarial": spec.get("adversarial"),
            "checkpoint": f"models/{name}/best",
            "parameters": ctx.models[name].trainable_parameters(),
            "splits": {s: {k: evaluation["splits"][s][k] for k in ("n", "accuracy", "uar")} for s in ctx.splits},
        }
    pc = ctx.corpus
    return {
        "schema_version": 1,
        "experiment": ctx.config["name"],
        "provenance": provenance(ctx.config, ctx.seed),
        "corpus": {"name": pc.name, "classes": pc.classes, "sample_rate": pc.sample_rate, "length": pc.length,
                   "seconds": pc.length / pc.sample_rate, "splits": {s: len(pc.split(s)) for s in SPLITS}},
        "eps": ctx.eps,
        "splits": ctx.splits,
        "threat_models": list(ctx.config["threat_models"]),
        "victims": list(ctx.config["victims"]),
        "models": models,
        "attacks": rows,
        "examples": [],
    }


def _examples(ctx: Context, results: dict[str, Any]) -> list[dict[str, Any]]:
    """Fig. 3 and listening files for the first successful clips of each comparison attacker (last split)."""
    from staa.evaluation.figures import plot_example, write_listening_files
    from staa.evaluation.transfer import AdversarialSet

    per_attacker = int((ctx.config.get("report") or {}).get("examples", 1))
    classes = ctx.corpus.classes
    out = []
    for row in results["attacks"]:
        if row["group"] != "comparison" or row["split"] != ctx.splits[-1] or per_attacker <= 0:
            continue
        adv = AdversarialSet.load(ctx.out / row["adversarial_set"])
        waves = ctx.corpus.split(row["split"]).waves
        chosen = [j for j, e in enumerate(adv.records["examples"]) if e["success"]][:per_attacker]
        for j in chosen:
            e = adv.records["examples"][j]
            stem = f"{row['threat']}-{row['attacker']}-{row['split']}-{e['index']}"
            figure = ctx.out / "figures" / f"{stem}.png"
            audio_dir = ctx.out / "audio" / stem
            clean, x_adv = np.asarray(waves[e["index"]]), np.asarray(adv.x_adv[j])
            title = f"{row['label']} on {results['models'][row['threat']]['label']}: clip {e['index']} ({classes[e['label']]})"
            if not figure.exists():
                plot_example(clean, x_adv, figure, sample_rate=ctx.corpus.sample_rate, title=title)
            audio = {k: ctx.rel(audio_dir / f"{k}.wav") for k in ("clean", "adversarial", "perturbation")}
            if not all((ctx.out / p).exists() for p in audio.values()):
                write_listening_files(audio_dir, clean, x_adv, ctx.corpus.sample_rate)
            snr = e["snr_db"]
            out.append({
                "threat": results["models"][row["threat"]]["label"], "attacker": row["attacker"], "label": row["label"],
                "split": row["split"], "index": e["index"], "path": e["path"], "true_class": classes[e["label"]],
                "clean_class": classes[e["clean_pred"]], "adv_class": classes[e["adv_pred"]],
                "snr_db": snr, "snr_db_text": "∞" if snr is None and e["sparsity_pct"] == 0 else (f"{snr:.2f}" if snr is not None else "–"),
                "sparsity_pct": e["sparsity_pct"], "figure": ctx.rel(figure), "audio": audio,
            })
    return out


def _report(ctx: Context, rows: list[dict[str, Any]], sections: dict[str, Any]) -> Path:
    from staa.evaluation.report import write_report
    from staa.evaluation.tables import write_tables

    ctx.log("report: writing results.json, tables, figures and the report")
    results = {**_results(ctx, rows), **sections}
    results["examples"] = _examples(ctx, results)
    write_json(ctx.out / "results.json", results)
    tables = write_tables(results, ctx.out / "tables")
    return write_report(ctx.out, results, tables)
