"""An experiment file means one thing: what a reader could take two ways is refused, naming key and line.

* :func:`parse_yaml`: YAML whose mapping repeats a key (two ``pgd:`` under ``attackers:``) is refused
  with both lines, instead of the loader silently keeping the last one. (Keys merged in with ``<<:`` may
  be overridden, as YAML defines.)
* :func:`unshared`: a YAML alias is a copy of its anchor, so an override of one never changes the other.
* :func:`check_lists`: no list repeats an entry (``threat_models: [emo18, emo18]`` would attack twice) or
  holds a null.
* :func:`check_nested_keys`: every model, attacker, ablation and threat override names only keys staa
  reads; a misspelt one (``setings:``) is refused rather than ignored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from staa.errors import ConfigError

MODEL_KEYS = {"arch", "label", "recipe", "recipe_settings", "epochs", "lr", "batch_size", "options", "adversarial",
              "pretrain"}  # fmt: skip
ATTACKER_KEYS = {"attack", "label", "eps", "eps_db", "settings", "target", "generator", "train", "fit", "sweep"}
ABLATION_KEYS = {"of", "label", "settings", "generator", "train"}
OVERRIDE_KEYS = {"settings", "generator", "train"}
MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKey(yaml.YAMLError):
    """A mapping that names one key twice (the message names the key and both lines)."""


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing repeated keys in a mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise DuplicateKey(f"key '{key}' appears twice in one mapping (lines {seen[key]} and {line}); "
                                       "keep one")  # fmt: skip
                seen[key] = line
            except TypeError:  # an unhashable key: the base loader reports it
                pass
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> Any:
    """The document in ``text`` (safe: no Python objects), refusing repeated keys (:class:`DuplicateKey`)."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def unshared(value: Any) -> Any:
    """``value`` with every mapping and list its own copy: a YAML alias (``train: *staa_train``) reads as a copy
    of its anchor, so that ``--set attackers.staa.train.steps=800`` changes that attacker alone, not every
    attacker whose ``train`` names the same anchor. Call it after the document's size is checked."""
    if isinstance(value, dict):
        return {k: unshared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unshared(v) for v in value]
    return value


def check_lists(value: Any, path: Path | str, where: str = "", *, repeats: bool = True) -> None:
    """No list anywhere in ``value`` holds a null or (with ``repeats``) repeats an entry (one line naming the key)."""
    if isinstance(value, dict):
        for k, v in value.items():
            check_lists(v, path, f"{where}.{k}" if where else str(k), repeats=repeats)
    elif isinstance(value, list):
        seen: set[str] = set()
        for entry in value:
            if entry is None:
                raise ConfigError(f"{where}: holds a null entry (remove it or give a value)", path)
            key = json.dumps(entry, sort_keys=True, default=str)
            if repeats and key in seen:
                raise ConfigError(f"{where}: {entry!r} is listed twice (each entry means one thing; keep one)", path)
            seen.add(key)
            check_lists(entry, path, where, repeats=repeats)


def check_nested_keys(config: dict[str, Any], path: Path | str) -> None:
    """Models, attackers, ablations and threat overrides name only known keys (one line naming the unknown one)."""
    sections = (("models", MODEL_KEYS), ("attackers", ATTACKER_KEYS), ("ablations", ABLATION_KEYS))
    for section, known in sections:
        for name, spec in (config.get(section) or {}).items():
            _known(spec, known, f"{section}.{name}", path)
    for threat, entries in (config.get("threat_overrides") or {}).items():
        if not isinstance(entries, dict):
            raise ConfigError(f"threat_overrides.{threat} must map attacker ids to mappings, got {entries!r}", path)
        for aid, spec in entries.items():
            _known(spec, OVERRIDE_KEYS, f"threat_overrides.{threat}.{aid}", path)


def _known(spec: Any, known: set[str], where: str, path: Path | str) -> None:
    if isinstance(spec, dict) and set(spec) - known:
        unknown = sorted(map(str, set(spec) - known))
        raise ConfigError(f"{where}: unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(known))})", path)  # fmt: skip
