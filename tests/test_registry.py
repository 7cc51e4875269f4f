"""One registry type for attacks, models, corpora and defenses: lazy classes, public and internal names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from staa.attacks.registry import ATTACKS, checked_options
from staa.data.registry import CORPORA
from staa.defenses.registry import DEFENSES
from staa.errors import ConfigError
from staa.models.registry import MODELS
from staa.registry import Registry

HEAVY = ("wav2vec2", "wavlm", "hubert")  # their classes load transformers: described, not imported, here


def test_every_kind_of_thing_is_named_by_the_same_registry():
    for registry in (ATTACKS, MODELS, CORPORA, DEFENSES):
        assert isinstance(registry, Registry)
        for name in (n for n in registry if n not in HEAVY):
            assert registry.get(name).__name__ == registry.entries[name].split(":")[1]
            assert registry.description(name) == (registry.get(name).__doc__ or "").strip().split("\n")[0]


def test_an_internal_entry_is_built_by_the_library_but_refused_from_users():
    assert "staa_mask_control" not in ATTACKS and "staa_mask_control" not in ATTACKS.names()
    assert ATTACKS.get("staa_mask_control").__name__ == "MaskControl"  # the experiment builds it
    with pytest.raises(ConfigError, match=r"unknown attack 'staa_mask_control' \(available: fmn, onepixel, pgd"):
        ATTACKS.check("staa_mask_control")
    with pytest.raises(ConfigError, match="unknown attack 'staa_mask_control'"):
        checked_options("staa_mask_control", [])


def test_an_unknown_name_is_one_line_listing_the_names():
    with pytest.raises(ConfigError) as caught:
        MODELS.get("emo19")
    assert str(caught.value) == f"unknown model 'emo19' (available: {', '.join(MODELS.names())})"


def test_naming_things_imports_no_torch():
    probe = ("import sys; from staa.attacks.registry import ATTACKS; "
             "[ATTACKS.description(n) for n in ATTACKS]; print('torch' in sys.modules)")  # fmt: skip
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
