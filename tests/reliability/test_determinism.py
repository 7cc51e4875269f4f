"""One seed fixes a run: the same seed on the same machine gives the same numbers, another seed does not."""

from __future__ import annotations

import torch

from staa.attacks.pgd import SparsePGD
from staa.models import build_model
from staa.runtime.reproducibility import seed_everything
from staa.training.ser import TrainConfig, predict_split, train_ser


def _train(corpus, out, seed: int, epochs: int = 2) -> tuple[list[tuple], bytes, list[int]]:
    seed_everything(seed)
    model = build_model("zhao19", num_classes=len(corpus.classes), hidden=8)
    result = train_ser(model, corpus, out, TrainConfig(epochs=epochs, batch_size=8, seed=seed), show_progress=False)
    history = [(h["epoch"], h["loss"], h["val_uar"], h["val_accuracy"]) for h in result["history"]]
    weights = (out / "best" / "model.safetensors").read_bytes()
    return history, weights, predict_split(model, corpus.split("test"), batch_size=8).tolist()


def test_same_seed_same_training_history_weights_and_predictions(tiny_corpus, tmp_path):
    first = _train(tiny_corpus, tmp_path / "a", seed=11)
    again = _train(tiny_corpus, tmp_path / "b", seed=11)
    assert again == first  # exact: history floats, checkpoint bytes, predictions
    other = _train(tiny_corpus, tmp_path / "c", seed=12, epochs=1)
    assert other[0][0] != first[0][0]


def test_same_seed_same_initial_weights():
    def weights(seed: int) -> list[torch.Tensor]:
        seed_everything(seed)
        return list(build_model("emo18", num_classes=4, hidden=8).state_dict().values())

    assert all(torch.equal(a, b) for a, b in zip(weights(3), weights(3)))
    assert not all(torch.equal(a, b) for a, b in zip(weights(3), weights(4)))


def test_seeded_attack_is_repeatable(tiny_corpus):
    torch.manual_seed(0)
    model = build_model("zhao19", num_classes=7, hidden=8).eval()
    x = torch.from_numpy(tiny_corpus.split("test").waves[:4].copy())

    def attack(seed: int) -> torch.Tensor:
        return SparsePGD(model, 0.01, k_percent=5, steps=3, seed=seed)(x).x_adv

    assert torch.equal(attack(1), attack(1))
    assert not torch.equal(attack(1), attack(2))
