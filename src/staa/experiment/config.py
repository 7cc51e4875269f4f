"""Experiment files: read a built-in experiment or a YAML file, apply ``--set`` overrides, validate.

Validation happens up front, before any work, one line per problem naming the file: the structure,
the references between sections (victims that are models, ablations of attackers, ``adversarial.from``
chains without cycles), known attacks and presets, ε in (0, 1]; each section of
:mod:`staa.experiment.sections` checks its own keys. The keys are listed in :mod:`staa.experiment`.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from staa.attacks.registry import ATTACKS
from staa.attacks.staa import GeneratorConfig, STAATrainConfig
from staa.data.base import SPLITS
from staa.defaults import DEFAULT_EPS, GENERATOR_PRESET, TRAINING_PRESET
from staa.errors import ConfigError
from staa.experiment.plans import ID, SHIFT_ID, ZERO_ID
from staa.experiment.sections.budgets import validate_budget
from staa.experiment.sections.curves import validate_sweeps
from staa.experiment.sections.robustness import validate_defenses
from staa.experiment.sections.targeted import validate_targeted

BUILTIN = ("demo", "emodb", "demos", "iemocap")
ADVERSARIAL_KEYS = {"from", "attack", "eps", "settings", "adv_fraction"}


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
    for name, spec in models.items():
        _validate_adversarial(name, (spec or {}).get("adversarial"), models, path)
    attackers = {k: v for k, v in config["attackers"].items() if v}
    for aid, spec in attackers.items():
        if spec.get("attack") not in ATTACKS:
            raise ConfigError(f"attacker '{aid}': unknown attack {spec.get('attack')!r} (available: {', '.join(ATTACKS)})", path)
        validate_budget(aid, (spec.get("train") or {}).get("budget"), path)
        _validate_presets(aid, spec, path)
    for aid, spec in (config.get("ablations") or {}).items():
        if spec and spec.get("of") not in attackers:
            raise ConfigError(f"ablation '{aid}': 'of' must name an attacker, got {spec.get('of')!r}", path)
    shift = (config.get("controls") or {}).get("authors_shift", "auto")
    if shift not in ("auto", True, False):
        raise ConfigError(f"controls.authors_shift must be auto, true or false, got {shift!r}", path)
    validate_defenses(config, path)
    validate_targeted(config, path)
    validate_sweeps(config, path)


def _validate_adversarial(name: str, spec: Any, models: dict[str, Any], path: Path | str) -> None:
    """``models.<id>.adversarial``: known keys, a known attack, and ``from`` naming another model (no cycle)."""
    if spec is None:
        return
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


def _validate_presets(aid: str, spec: dict[str, Any], path: Path | str) -> None:
    """A STAA-Net attacker's ``generator.preset`` and ``train.preset`` name presets of their config classes."""
    for key, cls, default in (("generator", GeneratorConfig, GENERATOR_PRESET), ("train", STAATrainConfig, TRAINING_PRESET)):
        preset = (spec.get(key) or {}).get("preset", default)
        if preset not in cls.PRESETS:
            raise ConfigError(f"attacker '{aid}': {key}.preset '{preset}' is not one of {', '.join(cls.PRESETS)}", path)
