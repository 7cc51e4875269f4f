"""Waveform augmentation: each change does what it says, a seed fixes the batch, ranks slice one draw."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from staa.data import augment
from staa.data.augment import Augmentation
from staa.errors import ConfigError

OFF = Augmentation(speed=0.0, gain_db=0.0, noise_prob=0.0)


def tone_batch(n: int = 6, length: int = 4000) -> torch.Tensor:
    """Sines of different pitch and level, so every row is distinguishable."""
    t = torch.arange(length, dtype=torch.float32) / 16_000
    return torch.stack([(0.1 + 0.05 * i) * torch.sin(2 * math.pi * (200 + 50 * i) * t) for i in range(n)])


def run(aug: Augmentation, x: torch.Tensor, labels: np.ndarray | None = None, seed: int = 0, crop: int | None = None):
    labels = np.zeros(len(x), dtype=np.int64) if labels is None else labels
    d = augment.draw(aug, labels, labels, crop or x.shape[-1], torch.Generator().manual_seed(seed))
    partners = x[d.partner.clamp_min(0)] if bool((d.partner >= 0).any()) else None
    return augment.apply(x, d, partners), d


def test_everything_off_is_the_identity() -> None:
    x = tone_batch()
    y, _ = run(OFF, x)
    torch.testing.assert_close(y, x)


def test_same_seed_same_batch_other_seed_other_batch() -> None:
    aug = Augmentation(mix_prob=0.5)
    x = tone_batch()
    labels = np.array([0, 0, 1, 1, 2, 2])
    a, b, c = run(aug, x, labels, seed=1)[0], run(aug, x, labels, seed=1)[0], run(aug, x, labels, seed=2)[0]
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_gain_changes_the_level_by_the_drawn_decibels() -> None:
    x = tone_batch()
    y, d = run(Augmentation(speed=0.0, gain_db=6.0, noise_prob=0.0), x)
    measured = 20 * torch.log10(augment.rms(y) / augment.rms(x))
    assert torch.allclose(measured, d.gain_db, atol=1e-3)
    assert d.gain_db.abs().max() <= 6.0 and d.gain_db.std() > 1.0  # drawn, not fixed


def test_noise_lands_at_the_drawn_snr() -> None:
    x = tone_batch(length=64_000)
    y, d = run(Augmentation(speed=0.0, gain_db=0.0, noise_prob=1.0, snr_db=(5.0, 25.0)), x)
    snr = 20 * torch.log10(augment.rms(x) / augment.rms(y - x))
    assert torch.allclose(snr, d.snr_db, atol=0.2)
    assert d.snr_db.min() >= 5.0 and d.snr_db.max() <= 25.0


def test_noise_probability_zero_and_one() -> None:
    x = tone_batch()
    assert torch.isinf(run(Augmentation(noise_prob=0.0), x)[1].snr_db).all()
    assert torch.isfinite(run(Augmentation(noise_prob=1.0), x)[1].snr_db).all()


def test_resample_crop_reads_at_the_rate_from_the_start() -> None:
    x = torch.arange(20, dtype=torch.float32).repeat(2, 1)
    rate = torch.tensor([2.0, 0.5], dtype=torch.float64)
    y = augment.resample_crop(x, rate, torch.zeros(2, dtype=torch.float64), 6)
    assert y[0].tolist() == [0, 2, 4, 6, 8, 10]  # twice as fast: every other sample
    assert y[1].tolist() == [0, 0.5, 1, 1.5, 2, 2.5]  # half speed: linear interpolation
    late = augment.resample_crop(x, torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), 5)
    assert late[0].tolist() == [15, 16, 17, 18, 19]  # start at the end of the room the crop leaves
    wrap = augment.resample_crop(x, rate, torch.zeros(2, dtype=torch.float64), 12)
    assert wrap[0, 10:].tolist() == [0, 2]  # past the end the clip continues cyclically, as tiling does


def test_crop_length_and_speed_range() -> None:
    aug = Augmentation(crop_seconds=0.1, speed=0.2, noise_prob=0.0)
    assert augment.crop_length(aug, 4000, 16_000) == 1600
    assert augment.crop_length(Augmentation(crop_seconds=9.0), 4000, 16_000) == 4000
    y, d = run(aug, tone_batch(), crop=1600)
    assert y.shape == (6, 1600)
    assert d.rate.min() >= 0.8 and d.rate.max() <= 1.2


def test_mixing_takes_partners_of_the_same_class_only() -> None:
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    d = augment.draw(Augmentation(mix_prob=1.0), labels, labels, 10, torch.Generator().manual_seed(0))
    assert (d.partner >= 0).all()
    assert (labels[d.partner.numpy()] == labels).all()
    lonely = np.array([0, 1])  # a class with one clip has no partner to mix with
    assert (augment.draw(Augmentation(mix_prob=1.0), lonely, lonely, 10, torch.Generator()).partner == -1).all()


def test_clips_without_a_label_are_never_mixed() -> None:
    labels = np.array([-1, -1, -1, 2, 2])
    d = augment.draw(Augmentation(mix_prob=1.0), labels, labels, 10, torch.Generator().manual_seed(0))
    assert (d.partner[:3] == -1).all() and sorted(d.partner[3:].tolist()) in ([3, 4], [3, 3], [4, 4])
    assert all(labels[p] == 2 for p in d.partner[3:].tolist())


def test_mix_adds_the_partner_below_the_clip() -> None:
    x = tone_batch(2)
    partners = tone_batch(2).flip(0)
    below = torch.tensor([6.0, 12.0], dtype=torch.float64)
    y = augment.mix(x, partners, below, torch.tensor([True, False]))
    added = y - x
    assert torch.equal(added[1], torch.zeros_like(added[1]))
    ratio_db = 20 * torch.log10(augment.rms(x[:1]) / augment.rms(added[:1]))
    assert ratio_db.item() == pytest.approx(6.0, abs=1e-4)


def test_rows_of_a_draw_augment_like_the_whole_batch() -> None:
    """What each torchrun rank does (augment its rows with their slice of the draw) equals one process."""
    aug = Augmentation(mix_prob=0.5, crop_seconds=0.2)
    x = tone_batch()
    labels = np.array([0, 0, 1, 1, 2, 2])
    whole, d = run(aug, x, labels, seed=3, crop=3200)
    for rows in ([0, 2, 4], [1, 3, 5]):
        part = d.rows(rows)
        partners = x[part.partner.clamp_min(0)]
        torch.testing.assert_close(augment.apply(x[rows], part, partners), whole[rows])


def test_output_stays_in_range() -> None:
    y, _ = run(Augmentation(gain_db=20.0, noise_prob=1.0, snr_db=(0.0, 0.0)), 0.9 * tone_batch() / 0.35)
    assert y.abs().max() <= 1.0


@pytest.mark.parametrize(
    "settings",
    [{"speed": 1.0}, {"gain_db": -1}, {"noise_prob": 2}, {"snr_db": (30, 10)}, {"crop_seconds": 0}, {"mix_prob": -0.1}],
)
def test_bad_settings_are_refused(settings: dict) -> None:
    with pytest.raises(ConfigError, match="augmentation"):
        Augmentation(**settings)


def test_from_dict_reads_lists_and_refuses_unknown_keys() -> None:
    assert Augmentation.from_dict({"snr_db": [5, 20]}).snr_db == (5, 20)
    with pytest.raises(ConfigError, match="unknown setting"):
        Augmentation.from_dict({"pitch": 2})
