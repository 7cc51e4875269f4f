"""One small registry type for everything staa builds by name: attacks, models, corpora and defenses.

A :class:`Registry` maps a name to ``"module:Class"`` and imports the class on first use, so naming a
thing (``--help``, an experiment file's validation) loads no torch. An entry is *public* (users may name
it on the command line and in experiment files) or *internal* (built by the library itself, e.g. a
control experiment's attack, and refused when a user names it). A thing's description is the first line
of its class docstring, read from the source without importing it.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from staa.errors import ConfigError

PACKAGE = Path(__file__).resolve().parent


class Registry:
    """``Registry("attack", {"pgd": "staa.attacks.pgd:SparsePGD"}, internal={...})``: names to lazily imported classes."""

    def __init__(self, kind: str, public: dict[str, str], *, internal: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.entries = {**public, **(internal or {})}
        self.public = tuple(public)

    def __contains__(self, name: object) -> bool:  # whether users may name it
        return name in self.public

    def __getitem__(self, name: str) -> type:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:  # the public names, in registration order
        return iter(self.public)

    def names(self, *, internal: bool = False) -> list[str]:
        """The names users may give (sorted); with ``internal``, the library's own entries too."""
        return sorted(self.entries if internal else self.public)

    def check(self, name: Any, *, internal: bool = False) -> str:
        """``name`` if registered (and public, unless ``internal``), else one line listing the names."""
        if not isinstance(name, str) or name not in (self.entries if internal else self.public):
            raise ConfigError(f"unknown {self.kind} '{name}' (available: {', '.join(self.names())})")
        return name

    def get(self, name: Any, *, internal: bool = True) -> type:
        """The class registered under ``name``, imported now; the library's own calls may name internal entries."""
        module, cls = self.entries[self.check(name, internal=internal)].split(":")
        return getattr(importlib.import_module(module), cls)

    def classes(self) -> dict[str, type]:
        """Every public entry's class, imported."""
        return {name: self.get(name) for name in self.public}

    def description(self, name: str) -> str:
        """The first line of the class docstring, read from the module's source (nothing is imported)."""
        module, cls = self.entries[self.check(name, internal=True)].split(":")
        parts = module.split(".")[1:]
        path = PACKAGE.joinpath(*parts).with_suffix(".py")
        if not path.is_file():
            path = PACKAGE.joinpath(*parts, "__init__.py")
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and node.name == cls:
                return (ast.get_docstring(node) or "").strip().split("\n")[0]
        return ""
