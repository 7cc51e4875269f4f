"""Names and devices: an attack staa builds for itself (``staa_mask_control``) cannot be named by a user,
and every command checks its ``--device`` the same way (:func:`staa.runtime.device.check_device`):
an unknown name, a GPU this machine lacks or CUDA on a CPU-only torch is one line before any work."""

from __future__ import annotations

import pytest
import torch

from staa.attacks.registry import INTERNAL, PUBLIC_ATTACKS, attack_options, public_attack
from staa.errors import ConfigError
from staa.experiment.config import load_config
from staa.runtime.device import check_device

from .conftest import TINY_EXPERIMENT


def test_internal_attacks_are_not_public():
    assert "staa_mask_control" in INTERNAL and not INTERNAL & set(PUBLIC_ATTACKS)
    for name in INTERNAL:
        with pytest.raises(ConfigError, match="unknown attack 'staa_mask_control' .available: pgd"):
            public_attack(name)
        with pytest.raises(ConfigError, match="unknown attack"):
            attack_options(name)


def test_attack_run_refuses_an_internal_name(staa, checkpoints, micro, tmp_path):
    """The issue's case: `staa attack run staa_mask_control` was accepted and crashed."""
    out = tmp_path / "out"
    line = staa.refuses(["attack", "run", "staa_mask_control", "--model", checkpoints / "emo18", "--out", out, *micro],
                        "unknown attack 'staa_mask_control'", keep=(tmp_path,))  # fmt: skip
    assert "pgd" in line and "staa_mask_control" not in line.split("available:")[1]


def test_an_experiment_cannot_name_an_internal_attack(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text(TINY_EXPERIMENT.replace("{attack: pgd,", "{attack: staa_mask_control,"))
    with pytest.raises(ConfigError, match="unknown attack 'staa_mask_control'"):
        load_config(path)


UNAVAILABLE = ["gpu7", "cuda:9", "cpu:1", "tpu"] + ([] if torch.cuda.is_available() else ["cuda"])


@pytest.mark.parametrize("device", UNAVAILABLE)
def test_the_device_check(device):
    with pytest.raises(ConfigError, match=f"--device: .*'{device}'"):
        check_device(device, "--device")


def test_devices_this_machine_has_pass():
    assert check_device("cpu") == "cpu"
    if torch.cuda.is_available():
        assert check_device(f"cuda:{torch.cuda.device_count() - 1}").startswith("cuda")


@pytest.mark.parametrize("device", UNAVAILABLE[:2] + UNAVAILABLE[4:])
@pytest.mark.parametrize("command", ["attack run", "attack targets", "ser evaluate", "generator apply", "run"])
def test_every_command_checks_its_device_first(command, device, staa, checkpoints, micro, tiny_experiment, tmp_path):
    """`--device cuda` on a CPU-only torch was a clean error in `staa run` but a traceback in `staa attack run`."""
    out = tmp_path / "out"
    model = ["--model", checkpoints / "emo18"]
    args = {"attack run": ["attack", "run", "pgd", *model, "--out", out, *micro],
            "attack targets": ["attack", "targets", "pgd", *model, "--out", out, *micro],
            "ser evaluate": ["ser", "evaluate", checkpoints / "emo18", *micro],
            "generator apply": ["generator", "apply", checkpoints / "gen", *model, "--out", out, *micro],
            "run": ["run", tiny_experiment, "--out", out]}[command]  # fmt: skip
    staa.refuses([*args, "--device", device], "--device", device, keep=(tmp_path, checkpoints))


def test_an_experiment_device_is_checked_the_same_way(staa, tiny_experiment, tmp_path):
    out = tmp_path / "out"
    staa.refuses(
        ["run", tiny_experiment, "--out", out, "--set", "device=gpu7"], "unknown device 'gpu7'", keep=(tmp_path,)
    )
