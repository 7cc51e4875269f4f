"""Every file and variable staa reads is read defensively: a prepared split cut short, a resume state with
the wrong types or a missing key, text in another encoding and a malformed environment value each end in
one line naming the file or variable (or, for staa's own cache, in preparing it again), never a traceback."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from staa.data.cache import PreparedCorpus, prepare
from staa.data.manifest import ManifestCorpus
from staa.errors import CheckpointError, ConfigError, DataError
from staa.experiment.config import load_config
from staa.io.checkpoint import load_state, save_state
from staa.validation import environment_int

from .conftest import TINY_EXPERIMENT


@pytest.fixture
def prepared(micro_manifest, tmp_path) -> PreparedCorpus:
    return prepare(ManifestCorpus(micro_manifest), tmp_path / "cache", seconds=0.25, show_progress=False)


def test_a_split_cut_short_is_named_and_prepared_again(prepared, micro_manifest):
    """The issue's case: `--cache` holding a half-written test.npy ended in a traceback."""
    expected = np.array(prepared.split("test").waves)
    path = prepared.path / "test.npy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="damaged .*delete this folder") as info:
        prepared.split("test")
    assert str(prepared.path) in str(info.value) and "\n" not in str(info.value)
    with pytest.warns(UserWarning, match="damaged .*preparing it again"):
        again = prepare(ManifestCorpus(micro_manifest), prepared.path.parent, seconds=0.25, show_progress=False)
    np.testing.assert_array_equal(np.array(again.split("test").waves), expected)


def test_a_split_of_the_wrong_shape_is_named(prepared):
    np.save(prepared.path / "val.npy", np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(DataError, match=r"val.npy holds float32 \(2, 3\)"):
        prepared.split("val")


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda s: s["rng"].update(torch="not a tensor"), "RNG state is damaged"),
        (lambda s: s["rng"].pop("numpy"), "RNG state is damaged"),
        (lambda s: s["rng"].update(python=torch.zeros(3)), "RNG state is damaged"),
        (lambda s: s.pop("epoch"), "no 'epoch'"),
        (lambda s: s.update(history="many"), "'history' is a str"),
    ],
    ids=["rng type", "rng key", "rng size", "missing key", "wrong type"],
)
def test_a_damaged_resume_state_is_one_line(damage, fragment, tmp_path):
    path = tmp_path / "last.pt"
    save_state(path, model={}, optimizer={}, history=[], best_uar=0.5, epoch=1)
    state = torch.load(path, weights_only=True)
    damage(state)
    torch.save(state, path)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    with pytest.raises(CheckpointError, match=fragment) as info:
        load_state(path, {"model": dict, "optimizer": dict, "history": list, "best_uar": (int, float), "epoch": int})
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[2], "nothing restored"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_manifests_with_a_byte_order_mark_are_read(encoding, micro_manifest):
    text = micro_manifest.read_text()
    copy = micro_manifest.parent / f"manifest-{encoding}.csv"
    copy.write_bytes(text.encode(encoding))
    assert [it.path for it in ManifestCorpus(copy).items()] == [
        it.path for it in ManifestCorpus(micro_manifest).items()
    ]


@pytest.mark.parametrize(
    "data, fragment",
    [
        ("path,label\nb\xe9b\xe9.wav,anger\n".encode("latin-1"), r"not UTF-8 text \(byte 0xe9"),
        ("path,label\n".encode("utf-16-le"), "NUL characters"),
    ],
    ids=["latin-1", "utf-16 without a mark"],
)
def test_text_in_an_unknown_encoding_is_one_line(data, fragment, tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(data)
    with pytest.raises(DataError, match=fragment):
        ManifestCorpus(path).items()
    experiment = tmp_path / "e.yaml"
    experiment.write_bytes(data)
    with pytest.raises(ConfigError, match=fragment):
        load_config(experiment)


def test_an_experiment_file_in_utf16_is_read(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_bytes(TINY_EXPERIMENT.encode("utf-16"))
    assert load_config(path)["name"] == "tiny"


@pytest.mark.parametrize("value", ["four", "-1", "0", "1e3"])
def test_a_malformed_thread_count_in_the_environment_is_one_line(value, staa, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    staa.refuses(["data", "prepare", "synthetic", "--cache", "/nonexistent"], "OMP_NUM_THREADS", "whole number")


def test_environment_numbers_are_checked(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match="WORLD_SIZE: must be a whole number"):
        environment_int("WORLD_SIZE", 1, low=1)
    monkeypatch.setenv("WORLD_SIZE", " ")
    assert environment_int("WORLD_SIZE", 1, low=1) == 1
