"""Numbers are what they claim: NaN and infinities are refused wherever a number enters; a targeted attack
counts no clip the model already gave the target (one rule, :func:`staa.metrics.succeeded`, for every
attack, ASR and the targeted table); an attack whose settings make it another attack is refused; audio far
from what the models were built for is named in a warning."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from staa.attacks.onepixel import MAX_PIXELS
from staa.attacks.registry import build_attack
from staa.audio import load_audio
from staa.errors import ConfigError
from staa.evaluation.targeted import targeted_success_by_class
from staa.metrics import attack_success_rate, succeeded
from staa.models import build_model


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    "command",
    [
        [
            "generator",
            "train",
            "--threat",
            "m",
            "--out",
            "o",
            "--budget-snr",
        ],  # the case: the budget never acted
        ["attack", "run", "pgd", "--model", "m", "--out", "o", "--eps"],
        ["attack", "sweep", "pgd", "--model", "m", "--out", "o", "--k-percent"],
        ["ser", "train", "--out", "o", "--lr"],
    ],
    ids=["budget-snr", "eps", "k-percent", "lr"],
)
def test_non_finite_numbers_are_refused_on_every_option(command, value, staa, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    staa.refuses([*command, value], command[-1], "must be a finite number", keep=(tmp_path,))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("emo18", num_classes=7, hidden=8).eval()


def test_a_clip_already_at_the_target_is_no_success(model):
    """The issue's case: a targeted attack counted a clip already predicted as the target as a success."""
    x = torch.randn(6, 4000) * 0.1
    clean = model.predict(x, 6)
    target = int(clean[0])
    result = build_attack("zero", model, eps=0.05, targeted=True)(x, target=target)  # changes nothing
    assert not result.success.any()
    assert attack_success_rate(clean, result.adv_pred, torch.full_like(clean, target)) == 0.0
    # the same rule, by hand: landing on the target from another class
    assert succeeded(np.array([1, 2, 2]), np.array([2, 2, 1]), 2).tolist() == [True, False, False]


def test_the_targeted_table_leaves_such_clips_out(model):
    x = torch.randn(6, 4000) * 0.1
    clean = model.predict(x, 6)
    table = targeted_success_by_class(lambda m: build_attack("zero", m, eps=0.05, targeted=True), model, x)
    names = [str(c) for c in range(7)]
    for t, entry in zip(names, table["per_target"].values()):
        assert entry["n"] == int((clean != int(t)).sum())
        assert entry["n_success"] == 0


@pytest.mark.parametrize("pixels", [MAX_PIXELS + 1, 10**6])
def test_a_one_pixel_attack_with_many_pixels_is_refused(pixels, model):
    with pytest.raises(ConfigError, match=f"pixels must be 1 to {MAX_PIXELS}"):
        build_attack("onepixel", model, eps=0.05, pixels=pixels)


def test_audio_far_outside_the_models_range_is_named(tmp_path):
    t = np.arange(8000) / 16_000
    tone = 0.2 * np.sin(2 * np.pi * 220 * t)
    sf.write(str(tmp_path / "offset.wav"), (tone + 0.5).astype(np.float32), 16_000, subtype="FLOAT")
    with pytest.warns(UserWarning, match="offset.wav: DC offset \\+0.50"):
        load_audio(tmp_path / "offset.wav")
    sf.write(str(tmp_path / "loud.wav"), (tone * 20).astype(np.float32), 16_000, subtype="FLOAT")
    with pytest.warns(UserWarning, match="loud.wav: peak amplitude 4 exceeds 1"):
        assert np.abs(load_audio(tmp_path / "loud.wav")).max() <= 1.0
