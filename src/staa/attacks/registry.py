"""Attack registry: experiment files and the CLI name attacks; classes are imported on first use.

Options are checked against the attack's constructor (:func:`attack_options`, :func:`checked_options`),
so a setting the named attack does not take is an error rather than silently ignored, and a value of the
wrong type names the type expected. ``staa_mask_control`` is internal: the experiment builds it from a
trained generator; users cannot name it.
"""

from __future__ import annotations

import inspect
import math
from typing import TYPE_CHECKING, Any

from staa.errors import ConfigError
from staa.registry import Registry
from staa.validation import check_arguments

if TYPE_CHECKING:
    from torch import nn

    from staa.attacks.base import Attack

ATTACKS = Registry(
    "attack",
    {
        "pgd": "staa.attacks.pgd:SparsePGD",
        "pgd0": "staa.attacks.pgd0:PGD0",
        "sparse_rs": "staa.attacks.sparse_rs:SparseRS",
        "sigma_zero": "staa.attacks.sigma_zero:SigmaZero",
        "fmn": "staa.attacks.fmn:FMNL0",
        "sparsefool": "staa.attacks.sparsefool:SparseFool",
        "onepixel": "staa.attacks.onepixel:OnePixel",
        "staa": "staa.attacks.staa.attack:STAANet",
        "zero": "staa.attacks.zero:ZeroPerturbation",
        "universal": "staa.attacks.universal:UniversalPerturbation",
    },
    internal={"staa_mask_control": "staa.attacks.staa.controls:MaskControl"},
)
NOT_OPTIONS = ("self", "model", "generator", "perturbation")  # given as objects, never as -o settings
PUBLIC_ATTACKS = ATTACKS.public
#: Built by the experiment itself (from another attacker's trained generator); never named by a user.
INTERNAL = frozenset(ATTACKS.names(internal=True)) - set(PUBLIC_ATTACKS)


def public_attack(name: Any, where: str = "attack") -> str:
    """``name`` if a user may name it (a public registered attack); one error line naming ``where`` else."""
    if name not in ATTACKS:
        raise ConfigError(f"{where}: unknown attack {name!r} (available: {', '.join(PUBLIC_ATTACKS)})")
    return name


def attack_class(name: str, *, internal: bool = False) -> type[Attack]:
    """The class of attack ``name``: a public one, or with ``internal`` any (the library's own calls)."""
    return ATTACKS.get(name, internal=internal)


def build_attack(name: str, model: nn.Module, **kwargs: Any) -> Attack:
    """``build_attack("pgd", model, eps=0.05, k_percent=10)``; options of the wrong type are refused by name."""
    cls = attack_class(name)
    check_arguments(cls.__init__, kwargs)
    return cls(model, **kwargs)


def accepts(name: str, option: str) -> bool:
    """Whether attack ``name``'s constructor takes ``option`` (read from its signature)."""
    return option in inspect.signature(attack_class(name, internal=True).__init__).parameters


def attack_options(name: str, **given: Any) -> dict[str, Any]:
    """The options given (None values dropped), each checked: one the attack does not take is an error.

    An attack fitted beforehand (STAA-Net) is not built from options alone: it needs its trained state.
    """
    cls = attack_class(name)
    if getattr(cls, "fitted_state", None) == "generator":
        raise ConfigError(f"{name}: attacks with a trained generator (CLI: `staa attack {name} --generator DIR`)")
    options = {k: v for k, v in given.items() if v is not None}
    for option in options:
        if not accepts(name, option):
            raise ConfigError(f"{name}: no option '{option}'")
    return options


def option_types(name: str) -> dict[str, str]:
    """The options users may set on attack ``name``, each with its annotated type (``"int | None"``)."""
    types: dict[str, str] = {}
    for cls in attack_class(name).__mro__:  # a constructor passing **kwargs on takes its base's options too
        params = inspect.signature(cls.__init__).parameters.values()
        for p in params:
            if p.name not in NOT_OPTIONS and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                types.setdefault(p.name, _annotation(p.annotation))
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return types


def checked_options(name: str, pairs: list[str]) -> dict[str, Any]:
    """``["queries=100", "targeted=true"]`` → ``{"queries": 100, "targeted": True}``, each checked.

    A key the attack's constructor does not take names the valid ones; a value of another type than the
    parameter's annotation names the type expected. Values read as bool, int, float, a comma list or text.
    """
    types = option_types(ATTACKS.check(name))
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"-o: expected key=value, got '{pair}'")
        if key not in types:
            raise ConfigError(f"{name}: no option '{key}' (options: {', '.join(sorted(types))})")
        value = parse_value(text.strip())
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name}: option '{key}' must be a finite number, got '{text.strip()}'")
        if not _fits(value, types[key]):
            raise ConfigError(f"{name}: option '{key}' expects {types[key]}, got '{text.strip()}'")
        options[key] = tuple(value) if isinstance(value, list) and "tuple" in types[key] else value
    return options


def parse_value(text: str) -> Any:
    """A command-line value: ``true``/``false``, ``none``, an int, a float, ``a,b`` (a list) or the text itself."""
    if "," in text:
        return [parse_value(part.strip()) for part in text.split(",") if part.strip()]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _annotation(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "Any"
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))


def _fits(value: Any, annotation: str) -> bool:
    """Whether ``value`` (as :func:`parse_value` reads it) is of the annotated type, read from its text."""
    kinds = {part.strip().split("[")[0] for part in annotation.split("|")}
    if "Any" in kinds or "object" in kinds:
        return True
    if value is None:
        return "None" in kinds
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return bool(kinds & {"int", "float"})
    if isinstance(value, float):
        return "float" in kinds
    if isinstance(value, list):
        return bool(kinds & {"list", "tuple", "Sequence"})
    return bool(kinds & {"str", "Literal"})
