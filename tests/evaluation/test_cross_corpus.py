"""Cross-corpus scoring: classes matched by name, clips of classes the model lacks left out and counted."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from staa.data.cache import Split
from staa.errors import DataError
from staa.evaluation.cross_corpus import label_map, score_shared_classes, shared_classes

MODEL = ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"]  # EmoDB's
DATA = ["neutral", "calm", "happiness", "sadness", "anger", "fear", "disgust", "surprise"]  # RAVDESS's


class Scripted(torch.nn.Module):
    """Predicts the model class written in each clip's first sample: predictions chosen by the test."""

    def __init__(self, classes: list[str]) -> None:
        super().__init__()
        self.config = SimpleNamespace(class_names=classes)
        self.num_classes = len(classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(x[:, 0].long(), self.num_classes).float()


def split_of(labels: list[str], predicted: list[str]) -> Split:
    waves = np.zeros((len(labels), 8), dtype=np.float32)
    waves[:, 0] = [MODEL.index(p) for p in predicted]
    return Split(waves, np.array([DATA.index(c) for c in labels]), [{"path": f"{i}.wav"} for i in range(len(labels))])


def test_shared_classes_keep_the_models_order_and_map_by_name():
    assert shared_classes(MODEL, DATA) == ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
    mapped = label_map(MODEL, DATA)
    assert [MODEL[i] if i >= 0 else None for i in mapped] == [c if c in MODEL else None for c in DATA]


def test_no_class_in_common_is_one_clear_error():
    with pytest.raises(DataError, match="no class in common"):
        shared_classes(["calm"], ["anger"])


def test_left_out_clips_are_counted_and_a_class_the_data_lacks_is_a_wrong_prediction():
    labels = ["anger", "anger", "calm", "sadness", "sadness", "surprise", "calm", "neutral"]
    predicted = ["anger", "boredom", "anger", "sadness", "neutral", "anger", "anger", "neutral"]
    r = score_shared_classes(Scripted(MODEL), split_of(labels, predicted), DATA)
    kept = [(t, p) for t, p in zip(labels, predicted) if t in MODEL]
    assert r["left_out"] == {"calm": 2, "surprise": 1} and r["n"] == len(kept)
    recalls = {c: np.mean([p == t for t, p in kept if t == c]) for c in {t for t, _ in kept}}
    assert r["recall"] == pytest.approx(recalls)
    assert r["uar"] == pytest.approx(np.mean(list(recalls.values())))
    assert r["accuracy"] == pytest.approx(np.mean([p == t for t, p in kept]))
    assert r["uar_ci"]["low"] <= r["uar"] <= r["uar_ci"]["high"]
    confusion = np.array(r["confusion"])
    assert confusion.shape == (len(r["shared_classes"]), len(MODEL)) and confusion.sum() == len(kept)
    assert confusion[r["shared_classes"].index("anger"), MODEL.index("boredom")] == 1


def test_a_split_of_left_out_classes_only_is_refused():
    with pytest.raises(DataError, match="no clip of the shared classes"):
        score_shared_classes(Scripted(MODEL), split_of(["calm", "surprise"], ["anger", "anger"]), DATA)
