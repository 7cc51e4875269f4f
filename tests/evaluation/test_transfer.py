"""Transfer: an adversarial set replayed on victims, on hand-made clips whose outcomes are known
(tests/evaluation/conftest.py): rates per victim, targeted success, results cached per weights."""

from __future__ import annotations

import json

import pytest

from staa.evaluation.transfer import evaluate_victim, transfer_row


def test_victims_replay_the_same_audio(tmp_path, hand_waves, hand_made):
    waves, labels = hand_waves
    adv = hand_made.craft(tmp_path, waves, labels, hand_made.step())
    white = evaluate_victim(adv, waves, hand_made.SignModel(), "sign")
    assert white["asr"] == pytest.approx(0.6)
    assert white["correct_to_wrong"] == pytest.approx(0.75)  # correct rows 0, 1, 3, 4; wrong after: 0, 3, 4
    assert white["clean_accuracy"] == pytest.approx(0.8) and white["adv_accuracy"] == pytest.approx(0.2)
    const = evaluate_victim(adv, waves, hand_made.ConstantModel(), "constant")
    assert const["asr"] == 0.0 and const["correct_to_wrong"] == 0.0
    row = transfer_row(adv, {"sign": white, "constant": const})
    assert row["asr"] == {"sign": pytest.approx(0.6), "constant": 0.0}
    assert row["snr_db"] == adv.records["summary"]["snr_db"]
    ci = row["asr_ci"]["sign"]  # 3 of 5 clips flipped: the redraws range widely around 0.6
    assert ci["value"] == pytest.approx(0.6) and ci["n"] == 5 and ci["low"] < 0.6 < ci["high"]
    assert row["asr_ci"]["constant"]["half_width"] == 0.0  # no clip flips in any redraw
    assert row["correct_to_wrong_ci"]["sign"]["value"] == pytest.approx(0.75)


def test_targeted_success_means_hitting_the_target(tmp_path, hand_waves, hand_made):
    waves, labels = hand_waves
    adv = hand_made.craft(tmp_path, waves, labels, hand_made.step(targeted=True), target=1)
    # +ε towards class 1: rows 3 (0 → 0.05) and 4 (−0.01 → 0.04) reach it; rows 0 and 1 were there
    # already (no success: nothing was imposed), row 2 (−0.2 → −0.15) does not: 2 of 5 clips
    assert adv.records["target"] == 1
    assert evaluate_victim(adv, waves, hand_made.SignModel(), "sign")["asr"] == pytest.approx(2 / 5)


def test_victim_results_are_cached_per_weights(tmp_path, hand_waves, hand_made):
    waves, labels = hand_waves
    adv = hand_made.craft(tmp_path, waves, labels, hand_made.step())
    evaluate_victim(adv, waves, hand_made.SignModel(), "v", key="weights-a")
    cached = adv.directory / "victims" / "v.json"
    record = json.loads(cached.read_text())
    record["asr"] = 0.123  # a cached number is reused as long as the key matches ...
    cached.write_text(json.dumps(record))
    assert evaluate_victim(adv, waves, hand_made.SignModel(), "v", key="weights-a")["asr"] == 0.123
    # ... and recomputed for other weights
    assert evaluate_victim(adv, waves, hand_made.SignModel(), "v", key="weights-b")["asr"] == pytest.approx(0.6)
