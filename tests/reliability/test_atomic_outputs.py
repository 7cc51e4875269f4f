"""Outputs appear whole or not at all, shareable as the umask says, in folders claimed for their settings;
a resumed run sweeps up what a killed one left behind."""

from __future__ import annotations

import json
import os
import stat

import pytest

from staa.errors import ConfigError
from staa.io.outputs import atomic_path, claim_folder, claimed, remove_partial_outputs, writable_folder, write_json


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    write_json(path, {"uar": 0.5})
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(path) as tmp:
            tmp.write_text('{"uar": 0.')
            raise RuntimeError("disk full")
    assert json.loads(path.read_text()) == {"uar": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_temporary_keeps_the_suffix_and_lives_beside_the_target(tmp_path):
    with atomic_path(tmp_path / "sub" / "x.npy") as tmp:
        assert tmp.parent == tmp_path / "sub" and tmp.suffix == ".npy" and tmp.name.startswith(".x.npy.")
        tmp.write_bytes(b"data")
    assert (tmp_path / "sub" / "x.npy").read_bytes() == b"data"


def test_json_output_serialises_numpy_and_paths(tmp_path):
    import numpy as np

    write_json(tmp_path / "r.json", {"a": np.float32(0.25), "b": np.arange(3), "c": tmp_path})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 0.25, "b": [0, 1, 2], "c": str(tmp_path)}


def test_remove_partial_outputs_removes_only_killed_temporaries(tmp_path):
    (tmp_path / "best").mkdir()
    stale = [tmp_path / ".last.pt.abc123.tmp.pt", tmp_path / "best" / ".model.safetensors.x1.tmp.safetensors"]
    keep = [tmp_path / name for name in ("last.pt", ".gitignore", "notes.tmp.txt", "best/config.json")]
    for p in stale + keep:
        p.write_text("x")
    assert sorted(remove_partial_outputs(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)


def test_files_are_written_with_the_permissions_the_umask_allows(tmp_path):
    """Temporaries are 0600; the renamed output must be shareable as the umask says (0644 under 022)."""
    old = os.umask(0o002)
    try:
        write_json(tmp_path / "group.json", {})
    finally:
        os.umask(old)
    write_json(tmp_path / "default.json", {})
    assert stat.S_IMODE((tmp_path / "group.json").stat().st_mode) == 0o664
    assert stat.S_IMODE((tmp_path / "default.json").stat().st_mode) == 0o666 & ~old


# ---- claimed folders: settings recorded, other settings refused, --overwrite starts over ------------------
def test_a_claim_refuses_other_settings_and_names_what_changed(tmp_path):
    claim_folder(tmp_path, {"epochs": 1, "lr": 0.1, "attack": {"k_percent": 10}}, outputs=["records.json"])
    write_json(tmp_path / "records.json", {})
    claim_folder(tmp_path, {"epochs": 1, "lr": 0.1, "attack": {"k_percent": 10}}, outputs=["records.json"])
    with pytest.raises(ConfigError) as info:
        claim_folder(tmp_path, {"epochs": 2, "lr": 0.1, "attack": {"k_percent": 90}}, outputs=["records.json"])
    assert "other settings (attack.k_percent: 10 → 90, epochs: 1 → 2)" in str(info.value)
    assert "--overwrite" in str(info.value) and "\n" not in str(info.value)


def test_overwrite_deletes_only_the_claimed_outputs(tmp_path):
    claim_folder(tmp_path, {"k": 0}, outputs=["records.json", "wav"])
    write_json(tmp_path / "wav" / "a.wav", {})
    write_json(tmp_path / "records.json", {})
    (tmp_path / "notes.txt").write_text("mine")
    claim_folder(tmp_path, {"k": 1}, outputs=["records.json", "wav"], overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "spec.json"]
    assert json.loads((tmp_path / "spec.json").read_text()) == {"k": 1}


def test_outputs_without_a_recorded_claim_are_refused(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"holds outputs \(last.pt\) made with unrecorded settings"):
        claim_folder(tmp_path, {"k": 1}, outputs=["last.pt", "train.json"])


def test_a_claim_without_outputs_is_simply_replaced(tmp_path):
    """A killed run that wrote nothing but its claim protects nothing: other settings may take the folder."""
    claim_folder(tmp_path, {"k": 1}, outputs=["records.json"])
    claim_folder(tmp_path, {"k": 2}, outputs=["records.json"])
    assert json.loads((tmp_path / "spec.json").read_text()) == {"k": 2}


def test_a_step_that_fails_before_writing_takes_its_claim_and_folders_back(tmp_path):
    out = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError, match="bad input"), claimed(out, {"k": 1}, outputs=["result.json"]):
        (out / "wav" / "sub").mkdir(parents=True)
        raise RuntimeError("bad input")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), claimed(tmp_path, {"k": 1}, outputs=["result.json"]):
        write_json(tmp_path / "result.json", {})
        raise RuntimeError("late failure")
    assert (tmp_path / "spec.json").exists(), "a claim on written outputs stays"


@pytest.mark.parametrize(
    "below, fragment",
    [((), "exists and is not a folder"), (("sub", "out"), "which is a file")],
    ids=["a file", "below a file"],
)
def test_output_places_that_cannot_be_folders(below, fragment, tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ConfigError, match=fragment):
        writable_folder(tmp_path.joinpath("taken", *below))
