"""Warm starts: a model takes another checkpoint's weights, output rows by class name, and training
starts from them; a checkpoint of another architecture is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from staa.data.cache import PreparedCorpus
from staa.errors import CheckpointError, ConfigError
from staa.io.weights import fingerprint
from staa.models import build_model
from staa.models.warm_start import warm_start
from staa.training.ser import TrainConfig, train_ser


def model(name: str, classes: list[str], seed: int, **config) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(name, num_classes=len(classes), class_names=classes, **config)


@pytest.fixture(scope="module")
def pretrained(tiny_corpus: PreparedCorpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Emo18 trained one epoch on the synthetic corpus: its ``best/`` checkpoint, the corpus's class names."""
    out = tmp_path_factory.mktemp("pretrain")
    net = model("emo18", list(tiny_corpus.classes), seed=0)
    train_ser(net, tiny_corpus, out, TrainConfig(epochs=1, batch_size=16), show_progress=False)
    return out / "best"


def saved_state(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


def test_same_classes_copy_every_weight(pretrained: Path, tiny_corpus: PreparedCorpus) -> None:
    net = model("emo18", list(tiny_corpus.classes), seed=1)
    assert warm_start(net, pretrained) == []
    theirs = saved_state(pretrained)
    assert all(torch.equal(v, theirs[k]) for k, v in net.state_dict().items())


def test_output_rows_follow_class_names_and_new_classes_start_fresh(
    pretrained: Path, tiny_corpus: PreparedCorpus
) -> None:
    """A model whose classes are some of the checkpoint's, reordered, plus one it never saw."""
    shared = list(reversed(tiny_corpus.classes[:3]))
    net = model("emo18", [*shared, "never-seen"], seed=1)
    own_rows = net.head.linear.weight.detach().clone()
    assert warm_start(net, pretrained) == ["never-seen"]
    theirs = saved_state(pretrained)
    for i, name in enumerate(shared):
        j = list(tiny_corpus.classes).index(name)
        assert torch.equal(net.head.linear.weight[i], theirs["head.linear.weight"][j])
        assert torch.equal(net.head.linear.bias[i], theirs["head.linear.bias"][j])
    assert torch.equal(net.head.linear.weight[3], own_rows[3])
    assert torch.equal(net.cnn[0].weight, theirs["cnn.0.weight"])
    assert torch.equal(net.head.lstm.weight_hh_l0, theirs["head.lstm.weight_hh_l0"])


@pytest.mark.parametrize(
    ("name", "config", "expected"),
    [("zhao19", {}, "'emo18' model; cannot start a 'zhao19'"), ("emo18", {"hidden": 32}, "'head.lstm.")],
)
def test_another_architecture_is_refused_in_one_line_and_changes_nothing(
    pretrained: Path, tiny_corpus: PreparedCorpus, name: str, config: dict, expected: str
) -> None:
    net = model(name, list(tiny_corpus.classes), seed=1, **config)
    before = fingerprint(net)
    with pytest.raises(CheckpointError, match=expected) as info:
        warm_start(net, pretrained)
    assert "\n" not in str(info.value)
    assert fingerprint(net) == before


def test_training_starts_from_the_checkpoint(pretrained: Path, tiny_corpus: PreparedCorpus, tmp_path: Path) -> None:
    """The claim records the warm-started weights as the initial ones, and the checkpoint folder by name."""
    classes = list(tiny_corpus.classes)
    expected = model("emo18", classes, seed=1)
    warm_start(expected, pretrained)
    cfg = TrainConfig(epochs=1, batch_size=16, init_from=str(pretrained))
    train_ser(model("emo18", classes, seed=1), tiny_corpus, tmp_path, cfg, show_progress=False)
    spec = json.loads((tmp_path / "spec.json").read_text())
    assert spec["initial_weights"] == fingerprint(expected) != fingerprint(model("emo18", classes, seed=1))
    assert spec["train"]["init_from"] == str(pretrained)


def test_a_missing_checkpoint_is_refused_before_training(tiny_corpus: PreparedCorpus, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=1, init_from=str(tmp_path / "nowhere"))
    with pytest.raises(CheckpointError, match="checkpoint folder not found"):
        train_ser(model("emo18", list(tiny_corpus.classes), seed=0), tiny_corpus, tmp_path / "out", cfg)
    assert not (tmp_path / "out" / "best").exists()


def test_init_from_is_a_folder_name_or_nothing() -> None:
    with pytest.raises(ConfigError, match="init_from"):
        TrainConfig(init_from="  ")
    assert TrainConfig(init_from=Path("a/b")).init_from == "a/b"
