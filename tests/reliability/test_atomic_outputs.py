"""Outputs appear whole or not at all, and a resumed run sweeps up what a killed one left behind."""

from __future__ import annotations

import json

import pytest

from staa.outputs import atomic_path, remove_partial_outputs, write_json


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
