"""Experiment files: read a built-in experiment or a YAML file, apply ``--set`` overrides, validate.

Validation happens up front, before any work, one line per problem naming the file: the structure,
the references between sections (victims that are models, ablations of attackers, ``adversarial.from``
chains without cycles), known attacks and presets, ε in (0, 1], the seed, ``max_examples`` and the
corpus's length; every model's and attacker's settings are built once without data
(:func:`~staa.experiment.plans.check_buildable`), so a value they cannot use stops the run before any
training; each section of :mod:`staa.experiment.sections` checks its own keys. The keys are listed in
:mod:`staa.experiment`.

A configuration is data from anywhere, so reading it is bounded: files over :data:`MAX_FILE_BYTES`, and
documents that expand (YAML aliases) to more than :data:`MAX_NODES` values or nest deeper than
:data:`MAX_DEPTH`, are refused before anything walks them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from staa import validation
from staa.attacks.budget import AmplitudeBudget
from staa.attacks.registry import PUBLIC_ATTACKS
from staa.attacks.staa import GeneratorConfig, STAATrainConfig
from staa.data.base import SPLITS
from staa.data.registry import check_corpus_options
from staa.data.synthetic import SyntheticCorpus
from staa.defaults import GENERATOR_PRESET, TRAINING_PRESET
from staa.errors import ConfigError
from staa.experiment.plans import (
    ID,
    MASK_CONTROL_SUFFIX,
    MASK_CONTROLS,
    SHIFT_ID,
    ZERO_ID,
    budget_of,
    check_buildable,
    experiment_budget,
)  # fmt: skip
from staa.experiment.sections.budgets import validate_budget
from staa.experiment.sections.cross_corpus import validate_cross_corpus
from staa.experiment.sections.curves import validate_sweeps
from staa.experiment.sections.robustness import validate_defenses
from staa.experiment.sections.seeds import validate_attack_seeds
from staa.experiment.sections.targeted import validate_targeted
from staa.experiment.strict import DuplicateKey, check_lists, check_nested_keys, parse_yaml, unshared
from staa.io.text import read_text
from staa.runtime.threads import check_threads

BUILTIN = ("demo", "emodb", "emodb-pooled", "ravdess", "ravdess-pooled", "nemo", "demos", "iemocap")
ADVERSARIAL_KEYS = {"from", "attack", "eps", "settings", "adv_fraction"}
CORPUS_KEYS = {"name", "root", "seconds", "cache", "options"}
MAX_FILE_BYTES = 1 << 20  # an experiment file is a page of YAML; a megabyte is no experiment
MAX_BASES = 8  # files based on files: a few levels are a family of experiments, more is a mistake
MAX_NODES = 100_000  # values after aliases are expanded (the shipped files have a few hundred)
MAX_DEPTH = 64
#: What an experiment file may leave out: filled in when the file is read (:func:`apply_defaults`), the one
#: place where defaults are applied, so every step reads ``config["splits"]`` and the like as they are.
#: ``eps`` null: the absolute staa.defaults.DEFAULT_EPS, unless ``eps_db`` gives a relative budget.
DEFAULTS: dict[str, Any] = {"seed": 0, "device": "cpu", "eps": None, "eps_db": None, "splits": ["val", "test"],
                            "max_examples": None, "threads": None}  # fmt: skip
REPORT_DEFAULTS: dict[str, Any] = {"examples": 1, "perceptual": True, "chunk_size": 8}
#: The top-level keys of an experiment file (documented in :mod:`staa.experiment`, checked by a test).
KEYS = {*DEFAULTS, "name", "corpus", "models", "threat_models", "victims", "attackers", "ablations",
        "threat_overrides", "controls", "report", "defenses", "targeted", "attack_seeds", "cross_corpus"}  # fmt: skip


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("staa") / "configs" / f"{name}.yaml"))


def load_config(spec: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read a built-in experiment (:data:`BUILTIN`) or a YAML file, on top of its ``base``; apply overrides."""
    path = builtin_path(str(spec)) if str(spec) in BUILTIN else Path(spec)
    config = _resolve(path, ())
    for item in overrides:
        apply_override(config, item)
    check_size(config, path)
    validate(config, path)
    return config


def _resolve(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The file's mapping merged over its ``base`` (a built-in name, or a file beside it), recursively.

    A file that changes a few keys of another (another recipe, another corpus) says only those: a mapping
    is merged key by key, anything else (a list, a value, null) replaces the base's.
    """
    config = _read(path)
    base = config.pop("base", None)
    if base is None:
        return config
    if not isinstance(base, str) or not base:
        raise ConfigError(f"base: a built-in experiment ({', '.join(BUILTIN)}) or a YAML file, got {base!r}", path)
    base_path = builtin_path(base) if base in BUILTIN else path.parent / base
    if base_path.resolve() in {p.resolve() for p in (*chain, path)}:
        raise ConfigError(f"base: '{base}' is this file or one it is based on (a cycle)", path)
    if len(chain) >= MAX_BASES:
        raise ConfigError(f"base: more than {MAX_BASES} files deep", path)
    merged = _merge(_resolve(base_path, (*chain, path)), config)
    check_size(merged, path)
    return merged


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else value
    return out


def _read(path: Path) -> dict[str, Any]:
    """One experiment file's mapping, its size and shape bounded, YAML aliases copied."""
    if not path.exists():
        raise ConfigError(f"no such experiment file (built-in experiments: {', '.join(BUILTIN)})", path)
    if not path.is_file():
        raise ConfigError("not a file (give a YAML experiment file)", path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(
            f"{path.stat().st_size} bytes: larger than the {MAX_FILE_BYTES} an experiment file may have", path
        )
    try:
        config = parse_yaml(read_text(path, ConfigError))
    except DuplicateKey as exc:
        raise ConfigError(str(exc), path) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML ({' '.join(str(exc).split())[:160]})", path) from None
    except RecursionError:
        raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror or exc})", path) from None
    if not isinstance(config, dict):
        raise ConfigError("an experiment file must be a YAML mapping", path)
    check_size(config, path)
    return unshared(config)


def check_size(config: Any, path: Path | str) -> None:
    """Refuse a document that expands to more than :data:`MAX_NODES` values or :data:`MAX_DEPTH` levels.

    Aliases are shared, not copied, by the YAML loader; this walk counts them as the copies that any
    later serialisation (experiment.yaml, spec.json) would make, and stops as soon as a bound is passed.
    """
    stack, count = [(config, 0)], 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            what = f"more than {MAX_NODES} values" if count > MAX_NODES else f"deeper than {MAX_DEPTH} levels"
            raise ConfigError(f"the experiment expands to {what} (YAML aliases?)", path)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)


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


def apply_defaults(config: dict[str, Any]) -> None:
    """Fill in the keys the file left out (:data:`DEFAULTS`, ``report``'s :data:`REPORT_DEFAULTS`), in place."""
    for key, value in DEFAULTS.items():
        config.setdefault(key, copy.deepcopy(value))
    if isinstance(config.get("report") or {}, dict):
        config["report"] = {**REPORT_DEFAULTS, **(config.get("report") or {})}


def validate(config: dict[str, Any], path: Path | str) -> None:
    """Check the experiment's structure and references up front, one line per problem (defaults filled in first)."""
    apply_defaults(config)
    unknown = set(config) - KEYS
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)} (allowed: {', '.join(sorted(KEYS))})", path)
    for key in ("name", "corpus", "models", "threat_models", "victims", "attackers"):
        if not config.get(key):
            raise ConfigError(f"'{key}' is missing or empty", path)
    check_lists(config, path, repeats=False)  # nulls first: a null victim is no model to look up
    if not isinstance(config["corpus"], dict) or not config["corpus"].get("name"):
        raise ConfigError("corpus.name is missing", path)
    _check_budget(experiment_budget(config), "eps / eps_db", path)
    _validate_values(config, path)
    check_nested_keys(config, path)
    splits = config["splits"]
    if not isinstance(splits, list) or not splits or any(s not in SPLITS for s in splits):
        raise ConfigError(f"splits: must list some of train, val, test, got {splits!r}", path)
    models = config["models"]
    for section in ("models", "attackers", "ablations"):
        for name in config.get(section) or {}:
            reserved = section != "models" and (name in (ZERO_ID, SHIFT_ID) or name.endswith(MASK_CONTROL_SUFFIX))
            if not isinstance(name, str) or not ID.fullmatch(name) or reserved:
                raise ConfigError(
                    f"{section}: '{name}' is not a valid id (letters, digits, '_' and '-'; ids name output "
                    f"folders; '{ZERO_ID}', '{SHIFT_ID}' and ids ending in '{MASK_CONTROL_SUFFIX}' are reserved for the control rows)",
                    path,
                )
    for name in (*config["threat_models"], *config["victims"]):
        if name not in models or not models[name]:
            raise ConfigError(f"model '{name}' is used but not defined under 'models'", path)
    for name, spec in models.items():
        _validate_adversarial(name, (spec or {}).get("adversarial"), models, path)
    attackers = {k: v for k, v in config["attackers"].items() if v}
    for aid, spec in attackers.items():
        if spec.get("attack") not in PUBLIC_ATTACKS:
            raise ConfigError(
                f"attacker '{aid}': unknown attack {spec.get('attack')!r} (available: {', '.join(PUBLIC_ATTACKS)})",
                path,
            )
        _check_budget(budget_of(spec, experiment_budget(config)), f"attacker '{aid}'", path)
        validate_budget(aid, (spec.get("train") or {}).get("budget"), path)
        _validate_presets(aid, spec, path)
    for aid, spec in (config.get("ablations") or {}).items():
        if spec and spec.get("of") not in attackers:
            raise ConfigError(f"ablation '{aid}': 'of' must name an attacker, got {spec.get('of')!r}", path)
    controls = config.get("controls") or {}
    if not isinstance(controls, dict):
        raise ConfigError("controls must be a mapping (authors_shift, random_mask, comb_mask)", path)
    known = {"authors_shift", *(f"{k}{MASK_CONTROL_SUFFIX}" for k in MASK_CONTROLS)}
    if set(controls) - known:
        raise ConfigError(
            f"controls: unknown keys {sorted(set(controls) - known)} (known: {', '.join(sorted(known))})", path
        )
    shift = controls.get("authors_shift", "auto")
    if shift not in ("auto", True, False):
        raise ConfigError(f"controls.authors_shift must be auto, true or false, got {shift!r}", path)
    for key in sorted(known - {"authors_shift"}):
        if controls.get(key, True) not in (True, False):
            raise ConfigError(f"controls.{key} must be true or false, got {controls[key]!r}", path)
    validate_defenses(config, path)
    validate_targeted(config, path)
    validate_cross_corpus(config, path)
    validate_sweeps(config, path)
    validate_attack_seeds(config, path)
    check_lists(config, path)
    try:
        check_buildable(config)
    except ConfigError as exc:
        raise ConfigError(str(exc), path) from None


def _check_budget(budget: dict[str, Any], owner: str, path: Path | str) -> None:
    """An L∞ budget of the file: exactly one of ``eps`` (in (0, 1]) and ``eps_db`` (dB, ≥ 0), one line if not."""
    try:
        AmplitudeBudget(**budget, owner=owner)
    except ConfigError as exc:
        raise ConfigError(str(exc), path) from None


def _validate_values(config: dict[str, Any], path: Path | str) -> None:
    """The top-level numbers and the corpus section, each in its range (one line naming the key)."""
    corpus = config["corpus"]
    try:
        validation.seed("seed", config["seed"])
        check_threads(config["threads"])
        if config["max_examples"] is not None:
            validation.number("max_examples", config["max_examples"], integer=True, low=1)
        unknown = set(corpus) - CORPUS_KEYS
        if unknown:
            raise ConfigError(f"corpus: unknown keys {sorted(unknown)} (allowed: {', '.join(sorted(CORPUS_KEYS))})")
        validation.seconds("corpus.seconds", corpus.get("seconds"))
        options = corpus.get("options") or {}
        if not isinstance(options, dict):
            raise ConfigError(f"corpus.options must be a mapping, got {corpus['options']!r}")
        if check_corpus_options(corpus["name"], options) is SyntheticCorpus:
            SyntheticCorpus(**options)  # checks the values; nothing is generated yet
        for key in ("models", "attackers"):
            section = config[key]
            bad = (
                [k for k, v in section.items() if not isinstance(v, dict) and v is not None]
                if isinstance(section, dict)
                else [key]
            )
            if bad:
                raise ConfigError(f"{key} must map ids to mappings (see '{bad[0]}')")
        report = config["report"]
        if not isinstance(report, dict) or set(report) - set(REPORT_DEFAULTS):
            raise ConfigError(
                f"report must be a mapping with keys among examples, perceptual, chunk_size, got {report!r}"
            )
        validation.number("report.chunk_size", report["chunk_size"], integer=True, low=1, high=100_000)
        validation.number("report.examples", report["examples"], integer=True, low=0, high=10_000)
        if not isinstance(report["perceptual"], bool) or not isinstance(config["device"], str):
            raise ConfigError("report.perceptual must be true or false and device a name such as cpu or cuda")
        for key in ("threat_models", "victims"):
            if not isinstance(config[key], list):
                raise ConfigError(f"{key} must be a list of model ids, got {config[key]!r}")
    except ConfigError as exc:
        raise ConfigError(str(exc), path) from None


def _validate_adversarial(name: str, spec: Any, models: dict[str, Any], path: Path | str) -> None:
    """``models.<id>.adversarial``: known keys, a known attack, and ``from`` naming another model (no cycle)."""
    if spec is None:
        return
    where = f"models.{name}.adversarial"
    if not isinstance(spec, dict) or set(spec) - ADVERSARIAL_KEYS:
        raise ConfigError(f"{where} must be a mapping with keys among {', '.join(sorted(ADVERSARIAL_KEYS))}", path)
    if spec.get("attack", "pgd") not in PUBLIC_ATTACKS:
        raise ConfigError(
            f"{where}: unknown attack {spec.get('attack')!r} (available: {', '.join(PUBLIC_ATTACKS)})", path
        )
    seen = [name]
    while (source := ((models.get(seen[-1]) or {}).get("adversarial") or {}).get("from")) is not None:
        if source not in models or not models[source]:
            raise ConfigError(f"{where}: 'from' names model '{source}', which is not defined under 'models'", path)
        if source in seen:
            raise ConfigError(f"{where}: 'from' chain {' → '.join([*seen, source])} is a cycle", path)
        seen.append(source)
    source = spec.get("from")
    if source is not None and models[source].get("arch") != models[name].get("arch"):
        raise ConfigError(
            f"{where}: fine-tuning needs the same arch as '{source}' ({models[source].get('arch')})", path
        )


def _validate_presets(aid: str, spec: dict[str, Any], path: Path | str) -> None:
    """A STAA-Net attacker's ``generator.preset`` and ``train.preset`` name presets of their config classes."""
    for key, cls, default in (
        ("generator", GeneratorConfig, GENERATOR_PRESET),
        ("train", STAATrainConfig, TRAINING_PRESET),
    ):
        preset = (spec.get(key) or {}).get("preset", default)
        if preset not in cls.PRESETS:
            raise ConfigError(f"attacker '{aid}': {key}.preset '{preset}' is not one of {', '.join(cls.PRESETS)}", path)
