"""A configuration file means one thing: a key given twice in one mapping, a list entry given twice or as
null, and a key staa does not read at any level are refused in one line naming the key (and, for a
repeated key, both lines); a ``--set`` value of the wrong type names the key and the type expected."""

from __future__ import annotations

import pytest

from staa.errors import ConfigError
from staa.experiment.config import load_config

from .conftest import TINY_EXPERIMENT

CASES = {
    "two pgd attackers": (TINY_EXPERIMENT.replace("attackers: {pgd: {attack: pgd, settings: {k_percent: 10, steps: 1}}}",
                                                  "attackers:\n  pgd: {attack: pgd}\n  pgd: {attack: pgd, settings: {steps: 1}}"),
                          "key 'pgd' appears twice in one mapping (lines 9 and 10)"),
    "a top-level key twice": (TINY_EXPERIMENT + "seed: 1\n", "key 'seed' appears twice in one mapping (lines 3 and 11)"),
    "a threat model twice": (TINY_EXPERIMENT.replace("threat_models: [emo18]", "threat_models: [emo18, emo18]"),
                             "threat_models: 'emo18' is listed twice"),
    "a victim twice": (TINY_EXPERIMENT.replace("victims: [emo18]", "victims: [emo18, emo18]"), "victims: 'emo18' is listed twice"),
    "a null victim": (TINY_EXPERIMENT.replace("victims: [emo18]", "victims: [emo18, null]"), "victims: holds a null entry"),
    "a split twice": (TINY_EXPERIMENT + "splits: [test, test]\n", "splits: 'test' is listed twice"),
    "a misspelt attacker key": (TINY_EXPERIMENT.replace("settings: {k_percent", "setings: {k_percent"),
                                "attackers.pgd: unknown key setings"),
    "a misspelt model key": (TINY_EXPERIMENT.replace("epochs: 1,", "epoch: 1,"), "models.emo18: unknown key epoch"),
    "a misspelt override key": (TINY_EXPERIMENT + "threat_overrides: {emo18: {pgd: {setting: {steps: 2}}}}\n",
                                "threat_overrides.emo18.pgd: unknown key setting"),
}  # fmt: skip


@pytest.mark.parametrize("text, fragment", CASES.values(), ids=CASES.keys())
def test_a_file_read_two_ways_is_refused(text, fragment, tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert fragment in message and message.startswith(str(path)) and "\n" not in message


def test_yaml_merge_keys_may_still_override(tmp_path):
    """A key merged in with ``<<:`` and then set again is YAML's override, not a repetition."""
    path = tmp_path / "e.yaml"
    path.write_text(TINY_EXPERIMENT.replace("models: {emo18: {arch: emo18, epochs: 1, options: {hidden: 8}}}",
                                            "base: &base {arch: emo18, epochs: 3}\nmodels:\n  emo18: {<<: *base, epochs: 1, "
                                            "options: {hidden: 8}}").replace("base: &base", "x-base: &base"))  # fmt: skip
    with pytest.raises(ConfigError, match="unknown keys \\['x-base'\\]"):  # the anchor's key itself is not a setting
        load_config(path)


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("attackers.pgd.settings.steps=ten", "settings.steps: must be an integer, got 'ten'"),
        ("attackers.pgd.settings.k_percent=[5]", "settings.k_percent: must be a finite number or null, got [5]"),
        ("models.emo18.epochs=two", "models.emo18: epochs: must be an integer, got 'two'"),
    ],
)
def test_a_set_value_of_the_wrong_type_names_key_and_type(override, fragment, staa, tiny_experiment, tmp_path):
    """The issue's case: `--set attackers.pgd.settings.steps=ten` failed with a comparison of str and int."""
    out = tmp_path / "out"
    staa.refuses(["run", tiny_experiment, "--out", out, "--set", override], fragment, keep=(tmp_path,))
