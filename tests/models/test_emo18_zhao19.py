"""The two scratch CNN-LSTM models of the paper: sizes, shapes, invariances and checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from staa.errors import CheckpointError, ConfigError
from staa.models import Emo18, Zhao19, build_model, load_model

# Parameter counts of the authors' models (official-code.md §2.3; the paper's 1.30 M / 1.01 M).
PARAMETERS = {("emo18", 7): 1_302_087, ("emo18", 4): 1_301_316, ("zhao19", 7): 1_010_759, ("zhao19", 4): 1_009_988}
CLASSES = {"emo18": Emo18, "zhao19": Zhao19}


def waves(batch: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.3 * torch.randn(batch, n, generator=g)).clamp(-1, 1)


@pytest.mark.parametrize("name,num_classes", list(PARAMETERS))
def test_parameter_count_matches_the_paper(name: str, num_classes: int) -> None:
    model = build_model(name, num_classes=num_classes)
    assert isinstance(model, CLASSES[name])
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS[(name, num_classes)]
    assert model.trainable_parameters() == PARAMETERS[(name, num_classes)]


@pytest.mark.parametrize("name", list(CLASSES))
def test_output_shape_for_any_length(name: str) -> None:
    """Short clips, 1 s, DEMoS's 6 s (96 000) and IEMOCAP's 8.7 s (139 200) all give (B, C) logits."""
    model = build_model(name, num_classes=4).eval()
    with torch.no_grad():
        for n in (1_000, 16_000):
            assert model(waves(3, n)).shape == (3, 4)
        for n in (96_000, 139_200):
            logits = model(waves(1, n))
            assert logits.shape == (1, 4)
            assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", list(CLASSES))
def test_rejects_a_waveform_without_batch_dimension(name: str) -> None:
    with pytest.raises(ValueError, match="batch, samples"):
        build_model(name)(torch.zeros(16_000))


@pytest.mark.parametrize("name", list(CLASSES))
def test_logits_are_invariant_to_positive_gain(name: str) -> None:
    """Standardisation inside the model: model(a·x) = model(x) for a > 0, including a near-silent gain."""
    torch.manual_seed(0)
    model = build_model(name, num_classes=7).eval()
    x = waves(2, 8_000)
    with torch.no_grad():
        ref = model(x)
        for a in (0.01, 0.5, 3.0):
            torch.testing.assert_close(model(a * x), ref, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(model(-x), ref, atol=1e-3)  # the sign is information, not gain


@pytest.mark.parametrize("name", list(CLASSES))
def test_silent_input_gives_finite_logits(name: str) -> None:
    with torch.no_grad():
        assert torch.isfinite(build_model(name).eval()(torch.zeros(2, 4_000))).all()


@pytest.mark.parametrize("name", list(CLASSES))
def test_save_and_load_round_trip(name: str, tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = build_model(name, num_classes=4, class_names=["a", "h", "n", "s"])
    model.train()
    model(waves(4, 8_000))  # move BatchNorm running statistics away from their initial values
    model.eval()
    model.save_pretrained(tmp_path / "ckpt")
    loaded = load_model(tmp_path / "ckpt", expected=name).eval()
    assert type(loaded) is CLASSES[name]
    assert loaded.config == model.config
    x = waves(2, 8_000, seed=5)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_refuses_checkpoint_of_another_model(tmp_path: Path) -> None:
    build_model("emo18").save_pretrained(tmp_path / "emo18")
    with pytest.raises(CheckpointError, match="'emo18' model, not 'zhao19'"):
        Zhao19.from_pretrained(tmp_path / "emo18")
    with pytest.raises(CheckpointError, match="expected 'zhao19'"):
        load_model(tmp_path / "emo18", expected="zhao19")


def test_refuses_checkpoint_with_another_class_count(tmp_path: Path) -> None:
    build_model("zhao19", num_classes=7).save_pretrained(tmp_path / "c7")
    with pytest.raises(CheckpointError, match="another class count"):
        Zhao19.from_pretrained(tmp_path / "c7", num_classes=4)


def test_refuses_missing_or_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no config.json"):
        load_model(tmp_path)
    build_model("emo18").save_pretrained(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_model(tmp_path / "ckpt")


def test_unknown_model_name_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match="emo18.*hubert|hubert.*emo18"):
        build_model("emo99")
