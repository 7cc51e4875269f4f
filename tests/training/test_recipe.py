"""The recipe's pieces: balanced batches, class weights, lr schedule, early stopping, optimiser, seeds."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from staa.errors import ConfigError
from staa.models.emo18 import Emo18
from staa.models.foundation import Wav2Vec2SER
from staa.training import recipe
from staa.training.ser import TrainConfig

LABELS = np.array([0] * 12 + [1] * 6 + [2] * 3 + [3] * 3)  # 24 clips, classes of 12/6/3/3


def test_paper_batches_are_the_plain_shuffle_of_before() -> None:
    """The paper recipe draws exactly the batches today's loop drew (seeded randperm of the split)."""
    cfg = TrainConfig(batch_size=5, seed=2)
    order = torch.randperm(24, generator=torch.Generator().manual_seed(2 * 1000 + 3)).tolist()
    assert recipe.epoch_batches(LABELS, cfg, 3) == [order[i : i + 5] for i in range(0, 24, 5)]


def test_balanced_epochs_give_every_class_the_same_share() -> None:
    cfg = TrainConfig(balance="sampler", batch_size=8)
    seen: Counter = Counter()
    for epoch in range(6):
        flat = sum(recipe.epoch_batches(LABELS, cfg, epoch), [])
        assert len(flat) == 24
        assert Counter(LABELS[flat].tolist()) == {0: 6, 1: 6, 2: 6, 3: 6}
        seen.update(flat)
        if epoch == 1:  # class 0 (12 clips, 6 per epoch) has shown each clip exactly once after two epochs
            assert all(seen[i] == 1 for i in range(12))
    assert all(seen[i] == 3 for i in range(12)) and all(seen[i] == 12 for i in range(18, 24))
    assert recipe.epoch_batches(LABELS, cfg, 1) == recipe.epoch_batches(LABELS, cfg, 1)
    assert recipe.epoch_batches(LABELS, cfg, 1) != recipe.epoch_batches(LABELS, cfg, 2)


def test_balanced_order_remainder_and_absent_classes() -> None:
    labels = np.array([0, 0, 0, 0, 0, 2, 2])  # class 1 absent; 7 clips over 2 classes → 4 + 3 in some order
    for epoch in (0, 1):
        counts = Counter(labels[recipe.balanced_order(labels, 0, epoch)].tolist())
        assert sorted(counts.values()) == [3, 4] and set(counts) == {0, 2}
    firsts = [Counter(labels[recipe.balanced_order(labels, 0, e)].tolist())[0] for e in (0, 1)]
    assert sorted(firsts) == [3, 4]  # the remainder goes to the classes in turn


def test_class_weights_equalise_classes() -> None:
    w = recipe.class_weights(LABELS, 5)
    per_class = [w[c].item() * (LABELS == c).sum() for c in range(4)]
    assert per_class == pytest.approx([6.0] * 4)  # n / C per class
    assert w[4] == 0  # absent class


def test_batch_loss_weights_sum_to_one() -> None:
    batch = [0, 1, 12, 18]
    plain = recipe.batch_loss_weights(LABELS, batch, TrainConfig())
    assert plain.tolist() == [0.25] * 4
    weighted = recipe.batch_loss_weights(LABELS, batch, TrainConfig(balance="loss"))
    assert weighted.sum().item() == pytest.approx(1.0)
    assert weighted[3] / weighted[0] == pytest.approx(4.0)  # class 2 has a quarter of class 0's clips


def test_warmup_then_cosine() -> None:
    cfg = TrainConfig(epochs=10, lr=1e-3, warmup_epochs=2, schedule="cosine")
    total = 100  # 10 steps per epoch
    lr = [recipe.learning_rate(cfg, s, total) for s in range(total)]
    assert lr[0] == pytest.approx(1e-3 / 20) and lr[19] == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(lr[:19], lr[1:20]))  # rising during warm-up
    assert lr[20] == pytest.approx(1e-3) and lr[60] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert all(a >= b for a, b in zip(lr[20:], lr[21:])) and lr[-1] < 1e-5
    assert {recipe.learning_rate(TrainConfig(), s, total) for s in range(total)} == {1e-3}


def test_early_stopping_counts_epochs_without_a_new_best() -> None:
    history = [{"val_uar": u} for u in (0.2, 0.4, 0.3, 0.4, 0.35)]
    assert not recipe.stop_early(history, None)
    assert recipe.stop_early(history, 3)  # 0.3, 0.4, 0.35 do not beat 0.4
    assert not recipe.stop_early(history, 4)  # 0.4 at epoch 2 beat 0.2
    assert not recipe.stop_early(history[:2], 2)


def test_optimiser_follows_weight_decay() -> None:
    model = torch.nn.Linear(2, 2)
    assert type(recipe.optimizer(model, TrainConfig())) is torch.optim.Adam
    decayed = recipe.optimizer(model, TrainConfig(weight_decay=0.01))
    assert isinstance(decayed, torch.optim.AdamW) and decayed.defaults["weight_decay"] == 0.01


def test_derived_generators_are_distinct_and_repeatable() -> None:
    draws = {tuple(torch.rand(3, generator=recipe.generator(0, e, s)).tolist()) for e in range(3) for s in range(3)}
    assert len(draws) == 9
    assert torch.equal(
        torch.rand(3, generator=recipe.generator(5, 1, 2)), torch.rand(3, generator=recipe.generator(5, 1, 2))
    )


def test_presets_by_name() -> None:
    assert TrainConfig.preset("paper", Emo18) == TrainConfig()
    small = TrainConfig.preset("small_corpus", Emo18, epochs=7, patience=None)
    assert small.epochs == 7 and small.augment is not None and small.schedule == "cosine"
    assert small.patience == 8  # None leaves a setting as the recipe has it
    changed = TrainConfig.small_corpus(Emo18, augment={"mix_prob": 0.0}).augment
    assert changed.mix_prob == 0.0 and changed.speed == 0.1  # the other strengths stay the recipe's
    assert TrainConfig.small_corpus(Wav2Vec2SER).lr == 3e-5 and TrainConfig.paper(Wav2Vec2SER).lr == 3e-5
    with pytest.raises(ConfigError, match="unknown SER training recipe"):
        TrainConfig.preset("fast", Emo18)


@pytest.mark.parametrize(
    "settings",
    [
        {"schedule": "step"},
        {"balance": "oversample"},
        {"warmup_epochs": 30},
        {"patience": 0},
        {"augment": {"speed": 2.0}},
        {"weight_decay": -1.0},
    ],
)
def test_bad_recipe_settings_are_refused(settings: dict) -> None:
    with pytest.raises(ConfigError):
        TrainConfig(**settings)


def test_recipe_fields_at_their_defaults_are_recognised() -> None:
    """They are left out of a training folder's claim, so folders trained before the recipe keep theirs."""
    paper = TrainConfig()
    assert all(recipe.left_at_default(paper, name) for name in recipe.FIELDS)
    assert not recipe.left_at_default(paper, "lr")  # not a recipe field: always claimed
    small = TrainConfig.small_corpus(Emo18, init_from="pretrained/best")  # every part switched on
    assert not any(recipe.left_at_default(small, name) for name in recipe.FIELDS)
