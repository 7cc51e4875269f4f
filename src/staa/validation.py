"""Values checked where they enter: command-line numbers, experiment keys, checkpoint configs, defense specs.

A value nobody range-checks fails later, deep inside torch, or not at all (``noise:sigma=nan`` used to
be saved into a defended checkpoint and evaluated to chance). Each check here raises one
:class:`~staa.errors.ConfigError` line naming the setting and what it must be; callers that read a file
attach its path.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from typing import Any

from staa.defaults import MAX_CLIP_SECONDS
from staa.errors import ConfigError


def number(
    name: str,
    value: Any,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> Any:
    """``value`` if it is a finite number (an integer when asked) within [low, high]; else one error line.

    ``low_open`` makes the lower bound exclusive ((low, high]); booleans are not numbers here.
    """
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        raise ConfigError(f"{name}: must be {kind}{_range(low, high, low_open)}, got {value!r}")
    below = low is not None and (value <= low if low_open else value < low)
    if below or (high is not None and value > high):
        raise ConfigError(f"{name}: must be {kind}{_range(low, high, low_open)}, got {value!r}")
    return value


def _range(low: float | None, high: float | None, low_open: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '≥'} {_num(low)}"
    if low is None:
        return f" ≤ {_num(high)}"
    return f" in {'(' if low_open else '['}{_num(low)}, {_num(high)}]"


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else f"{x:g}"


def seconds(name: str, value: float | None) -> float | None:
    """A clip length in seconds: None (the default) or a number in (0, :data:`MAX_CLIP_SECONDS`]."""
    return None if value is None else number(name, value, low=0, high=MAX_CLIP_SECONDS, low_open=True)


def seed(name: str, value: Any) -> int:
    """A seed: an integer in [0, 2³² − 1], the range every generator (NumPy's too) accepts."""
    return number(name, value, integer=True, low=0, high=2**32 - 1)


def environment_int(name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
    """The environment variable ``name`` as a whole number in [low, high] (``default`` when unset or empty).

    A value a user exported by mistake (``OMP_NUM_THREADS=four``) is refused in one line naming it.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        raise ConfigError(f"environment variable {name}: must be a whole number{_range(low, high, False)}, got {raw!r}")
    return int(raw)


def check_fields(cls: type, data: dict[str, Any], what: str = "") -> None:
    """Every key of ``data`` that is a field of dataclass ``cls`` holds a value of the field's type.

    JSON has no tuples or sets, so the annotations checked are ``int``, ``float`` (an int is accepted; NaN
    and infinities are not), ``bool``, ``str``, ``list[...]``, ``dict[...]``, ``Any`` and their ``| None``;
    the error names the key (after ``what``, the config it belongs to).
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in data and not _matches(data[f.name], hints[f.name]):
            where = f"{what}: " if what else ""
            raise ConfigError(f"{where}{f.name}: must be {_describe(hints[f.name])}, got {_short(data[f.name])}")


def check_arguments(function: Any, given: dict[str, Any], what: str = "") -> None:
    """Every argument in ``given`` that ``function`` annotates holds a value of its type (as :func:`check_fields`).

    ``--set attackers.pgd.settings.steps=ten`` is refused naming the key and the type expected, instead of
    failing on the first comparison inside the constructor.
    """
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # annotations this check cannot resolve: left to the function itself
        return
    for name, value in given.items():
        if name in hints and not _matches(value, hints[name]):
            where = f"{what}." if what else ""
            raise ConfigError(f"{where}{name}: must be {_describe(hints[name])}, got {_short(value)}")


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value) if args else isinstance(value, list)
    if origin is dict:
        return (
            isinstance(value, dict) and all(_matches(v, args[1]) for v in value.values())
            if args
            else isinstance(value, dict)
        )
    return True  # a type this check does not know: left to the constructor


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    if origin is dict:
        return "an object"
    names = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string", type(None): "null"}
    return names.get(hint, str(hint))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
