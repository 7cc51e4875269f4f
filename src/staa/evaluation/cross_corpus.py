"""Cross-corpus scoring: a model trained on one corpus, scored on another corpus's clips of the classes both have.

Classes are matched by name; staa's corpora name theirs with the same nouns (EmoDB's anger, boredom,
disgust, fear, happiness, neutral, sadness; RAVDESS's neutral, calm, happiness, sadness, anger, fear,
disgust, surprise: six shared). A clip of a class the model lacks (RAVDESS calm and surprise for an
EmoDB model) is left out and counted per class; a prediction of a class the data lacks (EmoDB boredom
on RAVDESS clips) is simply wrong. The UAR is the mean recall over the shared classes present in the
split, with its 95 % bootstrap interval over the kept clips (:mod:`staa.uncertainty`), so it is not
comparable with a UAR over all of either corpus's classes: the table says how many classes it averages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from staa.data.cache import Split
from staa.errors import DataError
from staa.metrics import accuracy, uar
from staa.models.base import SERModel
from staa.training.ser import predict_split
from staa.uncertainty import accuracy_interval, uar_interval


def shared_classes(model_classes: Sequence[str], data_classes: Sequence[str]) -> list[str]:
    """The class names both lists hold, in the model's order; a :class:`DataError` when there is none."""
    shared = [c for c in model_classes if c in set(data_classes)]
    if not shared:
        raise DataError(f"no class in common: the model has {', '.join(model_classes)}; "
                        f"the data {', '.join(data_classes)}")  # fmt: skip
    return shared


def label_map(model_classes: Sequence[str], data_classes: Sequence[str]) -> np.ndarray:
    """For each data class index, the model's index of the same name, or -1 where the model lacks it."""
    index = {c: i for i, c in enumerate(model_classes)}
    return np.array([index.get(c, -1) for c in data_classes], dtype=np.int64)


def score_shared_classes(
    model: SERModel,
    split: Split,
    data_classes: Sequence[str],
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """UAR and accuracy (with intervals) of ``model`` on ``split``'s clips of the classes it shares with the data.

    ``data_classes`` names the split's label indices. Returns the shared classes, the clips kept and
    those left out (per data class), the recall per shared class and the confusion matrix of the
    shared classes (rows, model order) against every class the model predicts (columns).
    """
    names = list(model.config.class_names)
    if not names:
        raise DataError("the model records no class names, so they cannot be matched to another corpus's")
    shared = shared_classes(names, data_classes)
    mapped = label_map(names, data_classes)[np.asarray(split.labels)]
    keep = np.flatnonzero(mapped >= 0)
    left_out = Counter(data_classes[int(c)] for c in np.asarray(split.labels)[mapped < 0])
    result: dict[str, Any] = {"shared_classes": shared, "n": int(keep.size), "left_out": dict(sorted(left_out.items())),
                              "model_classes": names}  # fmt: skip
    if keep.size == 0:
        raise DataError(f"no clip of the shared classes ({', '.join(shared)}) in this split")
    kept = Split(np.asarray(split.waves[keep]), mapped[keep], [split.items[i] for i in keep])
    pred = predict_split(model, kept, batch_size, device).numpy()
    target = kept.labels
    confusion = np.zeros((len(shared), len(names)), dtype=np.int64)
    for row, c in enumerate(shared):
        confusion[row] = np.bincount(pred[target == names.index(c)], minlength=len(names))
    recall = {
        c: float(confusion[r, names.index(c)] / confusion[r].sum()) for r, c in enumerate(shared) if confusion[r].sum()
    }
    result.update({
        "uar": uar(pred, target, len(names)),
        "uar_ci": uar_interval(pred, target, len(names)).to_dict(),
        "accuracy": accuracy(pred, target),
        "accuracy_ci": accuracy_interval(pred, target).to_dict(),
        "recall": recall,
        "confusion": confusion.tolist(),
    })  # fmt: skip
    return result
