"""wav2vec 2.0 / WavLM / HuBERT SER models, built from tiny random encoders saved as real checkpoints.

Each tiny encoder is written with ``save_pretrained`` and loaded through the same code path a
downloaded checkpoint takes, so nothing here needs the hub.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    HubertConfig,
    HubertModel,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2Model,
    WavLMConfig,
    WavLMModel,
)

from staa.errors import CheckpointError, ConfigError
from staa.models import build_model, load_model, standardize
from staa.models.foundation import HubertSER, Wav2Vec2SER, WavLMSER

HIDDEN = 32
TINY = dict(
    hidden_size=HIDDEN,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    conv_dim=(16, 16),
    conv_kernel=(10, 3),
    conv_stride=(5, 2),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)
FAMILIES = {
    "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model, Wav2Vec2SER),
    "wavlm": (WavLMConfig, WavLMModel, WavLMSER),
    "hubert": (HubertConfig, HubertModel, HubertSER),
}


@pytest.fixture(scope="module")
def encoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny pre-trained-style encoder folder per family (config.json + model.safetensors)."""
    root = tmp_path_factory.mktemp("encoders")
    torch.manual_seed(0)
    out = {}
    for name, (config_cls, model_cls, _) in FAMILIES.items():
        model_cls(config_cls(**TINY)).save_pretrained(root / name)
        out[name] = root / name
    return out


def waves(batch: int = 2, n: int = 4000, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(batch, n, generator=g)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_builds_from_a_pretrained_folder_and_classifies(encoders: dict[str, Path], name: str) -> None:
    model = build_model(name, num_classes=7, pretrained=str(encoders[name]))
    assert isinstance(model, FAMILIES[name][2])
    assert model.config.encoder["model_type"] == name
    assert model.config.encoder["hidden_size"] == HIDDEN
    model.eval()
    for n in (1600, 4000, 6400):
        logits = model(waves(3, n))
        assert logits.shape == (3, 7)
        assert torch.isfinite(logits).all()


def test_encoder_weights_are_the_pretrained_ones(encoders: dict[str, Path]) -> None:
    reference = Wav2Vec2Model.from_pretrained(encoders["wav2vec2"])
    model = build_model("wav2vec2", num_classes=7, pretrained=str(encoders["wav2vec2"]))
    ours = model.encoder.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key


@pytest.mark.parametrize("name", list(FAMILIES))
def test_feature_encoder_is_frozen_while_the_rest_trains(encoders: dict[str, Path], name: str) -> None:
    model = build_model(name, num_classes=4, pretrained=str(encoders[name]))
    model.train()
    torch.nn.functional.cross_entropy(model(waves()), torch.tensor([0, 3])).backward()
    conv = list(model.encoder.feature_extractor.parameters())
    assert conv and all(not p.requires_grad and p.grad is None for p in conv)
    conv_ids = {id(p) for p in conv}
    rest = [(k, p) for k, p in model.named_parameters() if id(p) not in conv_ids and "masked_spec_embed" not in k]
    assert all(p.requires_grad for _, p in rest)
    untouched = [k for k, p in rest if p.grad is None or not p.grad.abs().sum() > 0]
    assert untouched == []


def test_feature_encoder_trains_when_not_frozen(encoders: dict[str, Path]) -> None:
    model = build_model("wavlm", num_classes=4, pretrained=str(encoders["wavlm"]), freeze_feature_encoder=False)
    assert all(p.requires_grad for p in model.encoder.feature_extractor.parameters())


@pytest.mark.parametrize("num_classes,proj_size", [(7, 256), (4, 16)])
def test_head_is_two_linear_layers(encoders: dict[str, Path], num_classes: int, proj_size: int) -> None:
    model = build_model("wav2vec2", num_classes=num_classes, pretrained=str(encoders["wav2vec2"]), proj_size=proj_size)
    encoder_trainable = sum(p.numel() for p in model.encoder.parameters() if p.requires_grad)
    head = HIDDEN * proj_size + proj_size + proj_size * num_classes + num_classes
    assert model.trainable_parameters() - encoder_trainable == head


def test_head_averages_projected_frames(encoders: dict[str, Path]) -> None:
    """logits = classifier(mean_t projector(h_t)) on the encoder's frames of the standardised input."""
    model = build_model("hubert", num_classes=5, pretrained=str(encoders["hubert"])).eval()
    x = waves(2, 4000)
    frames = model.encoder(standardize(x)).last_hidden_state
    expected = model.classifier(model.projector(frames).mean(dim=1))
    torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_save_and_load_round_trip_gives_identical_logits(encoders: dict[str, Path], tmp_path: Path, name: str) -> None:
    model = build_model(name, num_classes=7, pretrained=str(encoders[name])).eval()
    with torch.no_grad():  # perturb the head so an untrained-but-rebuilt model could not pass by accident
        model.classifier.bias.add_(torch.arange(7.0))
    model.save_pretrained(tmp_path / "ckpt")
    loaded = load_model(tmp_path / "ckpt").eval()
    assert type(loaded) is type(model)
    x = waves(3, 4000)
    assert torch.equal(loaded(x), model(x))


def test_checkpoint_loads_offline_without_the_pretrained_folder(
    encoders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A saved model rebuilds its encoder from config.json: no hub, no network, no encoder folder."""
    source = tmp_path / "encoder"
    WavLMModel(WavLMConfig(**TINY)).save_pretrained(source)
    model = build_model("wavlm", num_classes=4, pretrained=str(source)).eval()
    model.save_pretrained(tmp_path / "ckpt")
    for f in source.iterdir():
        f.unlink()
    source.rmdir()

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("attempted a network connection")

    # huggingface_hub reads HF_HUB_OFFLINE once at import, so the socket block is what proves no access
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", no_network)
    loaded = load_model(tmp_path / "ckpt").eval()
    x = waves(2, 3200)
    assert torch.equal(loaded(x), model(x))
    # building from a local encoder folder is offline too
    assert build_model("hubert", num_classes=4, pretrained=str(encoders["hubert"]))(x).shape == (2, 4)


def test_refuses_checkpoint_of_another_model_type(encoders: dict[str, Path], tmp_path: Path) -> None:
    build_model("wavlm", num_classes=7, pretrained=str(encoders["wavlm"])).save_pretrained(tmp_path / "wavlm")
    with pytest.raises(CheckpointError, match="'wavlm' model, not 'wav2vec2'"):
        Wav2Vec2SER.from_pretrained(tmp_path / "wavlm")
    with pytest.raises(CheckpointError, match="expected 'hubert'"):
        load_model(tmp_path / "wavlm", expected="hubert")


def test_refuses_checkpoint_with_another_class_count(encoders: dict[str, Path], tmp_path: Path) -> None:
    build_model("wav2vec2", num_classes=7, pretrained=str(encoders["wav2vec2"])).save_pretrained(tmp_path / "c7")
    with pytest.raises(CheckpointError, match="another class count"):
        Wav2Vec2SER.from_pretrained(tmp_path / "c7", num_classes=4)


def test_refuses_encoder_of_another_family(encoders: dict[str, Path]) -> None:
    with pytest.raises(CheckpointError, match="holds a 'wavlm' encoder, not 'hubert'"):
        build_model("hubert", num_classes=7, pretrained=str(encoders["wavlm"]))


def test_refuses_a_staa_checkpoint_as_encoder(encoders: dict[str, Path], tmp_path: Path) -> None:
    build_model("wav2vec2", num_classes=7, pretrained=str(encoders["wav2vec2"])).save_pretrained(tmp_path / "ser")
    with pytest.raises(CheckpointError, match="staa SER checkpoint"):
        build_model("wav2vec2", num_classes=7, pretrained=str(tmp_path / "ser"))


def test_refuses_an_encoder_with_missing_weights(tmp_path: Path) -> None:
    """A partial checkpoint would silently leave random layers; it is refused instead."""
    Wav2Vec2Model(Wav2Vec2Config(**TINY)).save_pretrained(tmp_path / "enc")
    weights = tmp_path / "enc" / "model.safetensors"
    state = load_file(str(weights))
    dropped = next(k for k in state if "feed_forward.output_dense.weight" in k)
    save_file({k: v for k, v in state.items() if k != dropped}, str(weights), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="lacks weights"):
        build_model("wav2vec2", num_classes=7, pretrained=str(tmp_path / "enc"))


def test_missing_encoder_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as err:
        build_model("wav2vec2", num_classes=7, pretrained=str(tmp_path / "no" / "such" / "folder"))
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="needs a pre-trained encoder"):
        build_model("wavlm", num_classes=7)


def test_standardisation_is_what_the_feature_extractor_does() -> None:
    """Our in-model standardisation equals the HF feature extractor's ``do_normalize`` up to its ε."""
    x = waves(1, 16000, seed=3)[0].numpy() + 0.05
    extractor = Wav2Vec2FeatureExtractor(do_normalize=True, sampling_rate=16000, return_attention_mask=False)
    theirs = extractor(x, sampling_rate=16000, return_tensors="np").input_values[0]
    ours = standardize(torch.from_numpy(x)[None])[0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_scale_invariance_follows_do_normalize(encoders: dict[str, Path], tmp_path: Path) -> None:
    x = waves(2, 4000)
    normalised = build_model("wav2vec2", num_classes=3, pretrained=str(encoders["wav2vec2"])).eval()
    assert normalised.config.normalize is True
    torch.testing.assert_close(normalised(0.2 * x), normalised(x), atol=1e-4, rtol=1e-4)

    # A layer-norm front end (unlike the group-norm one of base models) is not offset-invariant by itself.
    raw_folder = tmp_path / "raw"
    WavLMModel(WavLMConfig(**TINY, feat_extract_norm="layer")).save_pretrained(raw_folder)
    (raw_folder / "preprocessor_config.json").write_text(json.dumps({"do_normalize": False, "sampling_rate": 16000}))
    raw = build_model("wavlm", num_classes=3, pretrained=str(raw_folder)).eval()
    assert raw.config.normalize is False
    torch.testing.assert_close(raw(x), raw.classify(x), atol=0, rtol=0)
    assert not torch.allclose(raw(x + 0.1), raw(x), atol=1e-3)
    raw.save_pretrained(tmp_path / "ckpt")
    assert load_model(tmp_path / "ckpt").config.normalize is False


@pytest.mark.parametrize("name", list(FAMILIES))
def test_input_gradient_is_finite_and_nonzero(encoders: dict[str, Path], name: str) -> None:
    """Attacks differentiate through the frozen feature encoder to the waveform."""
    model = build_model(name, num_classes=4, pretrained=str(encoders[name])).eval()
    x = waves(2, 4000).requires_grad_(True)
    model(x)[:, 1].sum().backward()
    assert torch.isfinite(x.grad).all()
    assert (x.grad.abs().sum(dim=1) > 0).all()


@pytest.mark.slow  # trains a (tiny) transformer encoder for an epoch
def test_trains_with_the_ser_trainer_and_reloads(encoders: dict[str, Path], tiny_corpus, tmp_path: Path) -> None:
    """One epoch through ``train_ser`` updates the transformer but never the frozen front end."""
    from staa.training.ser import TrainConfig, evaluate_ser, train_ser

    model = build_model("wavlm", num_classes=7, pretrained=str(encoders["wavlm"]))
    conv_before = {k: v.clone() for k, v in model.encoder.feature_extractor.state_dict().items()}
    layer_before = model.encoder.encoder.layers[0].feed_forward.output_dense.weight.detach().clone()
    result = train_ser(model, tiny_corpus, tmp_path, TrainConfig(epochs=1, lr=1e-3), show_progress=False)
    assert all(torch.equal(v, conv_before[k]) for k, v in model.encoder.feature_extractor.state_dict().items())
    assert not torch.equal(model.encoder.encoder.layers[0].feed_forward.output_dense.weight, layer_before)
    best = load_model(tmp_path / "best", expected="wavlm")
    assert evaluate_ser(best, tiny_corpus.split("val"))["uar"] == pytest.approx(result["best_val_uar"], abs=1e-12)
