"""Loading never runs code from a file, and paths from configs cannot leave the output folder.

The malicious files below really are malicious: each test first shows, with an unsafe loader, that the
payload runs (it writes a marker file), then shows that staa's loader refuses the file without running it.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest
import torch

from staa.errors import CheckpointError, ConfigError
from staa.io.checkpoint import load_state
from staa.io.paths import resolve_inside
from staa.models import build_model, load_model

SRC = Path(__file__).resolve().parents[2] / "src" / "staa"


class Payload:
    """Unpickling this object calls ``eval``, which writes ``marker``: arbitrary code execution."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return eval, (f"open({str(self.marker)!r}, 'w').write('payload ran')",)


def _assert_payload_is_live(marker: Path, unsafe_load) -> None:
    unsafe_load()
    assert marker.read_text() == "payload ran"
    marker.unlink()


def test_malicious_resume_state_is_refused(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "last.pt"
    torch.save({"model": Payload(marker)}, path)
    _assert_payload_is_live(marker, lambda: torch.load(path, weights_only=False))
    with pytest.raises(CheckpointError, match="refused to load resume state") as info:
        load_state(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not marker.exists()


def test_pickle_disguised_as_safetensors_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    folder = build_model("zhao19", num_classes=3, hidden=8).save_pretrained(tmp_path / "ckpt")
    weights = folder / "model.safetensors"
    weights.write_bytes(pickle.dumps(Payload(marker)))
    _assert_payload_is_live(marker, lambda: pickle.loads(weights.read_bytes()))
    with pytest.raises(CheckpointError, match="not a safetensors file") as info:
        load_model(folder)
    assert str(weights) in str(info.value)
    assert not marker.exists()


def test_torch_checkpoint_disguised_as_safetensors_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    folder = build_model("zhao19", num_classes=3, hidden=8).save_pretrained(tmp_path / "ckpt")
    torch.save(Payload(marker), folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_model(folder)
    assert not marker.exists()


def _python_sources() -> list[Path]:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20, "source tree not found"
    return files


UNSAFE = (r"trust_remote_code\s*=", r"pickle\.loads?\(", r"allow_pickle\s*=\s*True", r"dill|joblib\.load")


def test_no_remote_code_and_no_unsafe_deserialisation_in_src():
    """Grep guard: no ``trust_remote_code=``, no bare pickle loading, every torch.load weights-only."""
    offences = []
    for path in _python_sources():
        text = path.read_text()
        for pattern in UNSAFE:
            offences += [f"{path.name}: {m.group(0)}" for m in re.finditer(pattern, text)]
        for call in re.finditer(r"torch\.load\(([^()]|\([^()]*\))*\)", text):
            if "weights_only=True" not in call.group(0):
                offences.append(f"{path.name}: {call.group(0)}")
    assert not offences, offences


# ---- paths from configs and manifests ----------------------------------------------------------------
def test_relative_paths_inside_the_output_folder_resolve(tmp_path):
    assert resolve_inside(tmp_path, "tables/uar.csv") == tmp_path.resolve() / "tables" / "uar.csv"
    assert resolve_inside(tmp_path, "a/../b") == tmp_path.resolve() / "b"
    assert resolve_inside(tmp_path, ".") == tmp_path.resolve()
    assert resolve_inside(tmp_path, tmp_path / "x") == tmp_path.resolve() / "x"


@pytest.mark.parametrize("escape", ["..", "../sibling", "a/../../x", "/etc/passwd", "~/x"])
def test_paths_that_leave_the_output_folder_are_refused(escape, tmp_path):
    base = tmp_path / "out"
    base.mkdir()
    with pytest.raises(ConfigError, match="outside the output folder") as info:
        resolve_inside(base, escape, what="output 'report'")
    assert "output 'report'" in str(info.value) and "\n" not in str(info.value)


def test_symlink_out_of_the_output_folder_is_refused(tmp_path):
    base, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    base.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, base / "link")
    with pytest.raises(ConfigError, match="outside the output folder"):
        resolve_inside(base, "link/file.wav")


def test_unresolvable_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be resolved"):
        resolve_inside(tmp_path, "bad\0name")
