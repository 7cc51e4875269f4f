"""The adversarial-set store on hand-made clips whose outcomes are computed by hand (tests/evaluation/conftest.py):
threat-side measures from x_adv − x, resuming a killed run, subsets, perceptual scores, fingerprints."""

from __future__ import annotations

import math

import numpy as np
import pytest

from staa.attacks.zero import ZeroPerturbation
from staa.evaluation.adversarial_set import AdversarialSet, craft_adversarial_set, file_fingerprint
from staa.evaluation.transfer import evaluate_victim


def test_threat_side_measures_from_x_adv_minus_x(tmp_path, hand_waves, hand_made):
    waves, labels = hand_waves
    adv = hand_made.craft(tmp_path, waves, labels, hand_made.step(), chunk_size=2)
    s = adv.records["summary"]
    assert adv.success.tolist() == [True, False, False, True, True]
    assert s["n"] == 5 and s["n_success"] == 3 and s["asr_threat"] == pytest.approx(0.6)
    # SNR over successful clips with a finite value: rows 0 (20 dB) and 4 (13.98 dB); the silent row 3 is counted apart
    assert s["snr_db"] == pytest.approx((20.0 + 20 * math.log10(0.25 / 0.05)) / 2, abs=1e-4)
    assert s["snr_excluded"] == {"zero_perturbation": 0, "silent": 1}
    assert s["snr_db_median"] == pytest.approx(s["snr_db"], abs=1e-4)  # the median of two values is their mean
    # the budget of every clip, absolute and relative to its peak (none for the silent clip), and their medians
    ex = adv.records["examples"]
    assert [e["eps"] for e in ex] == pytest.approx([hand_made.EPS] * 5)
    assert ex[0]["eps_db"] == pytest.approx(20.0, abs=1e-4) and ex[3]["eps_db"] is None
    assert s["eps_median"] == pytest.approx(hand_made.EPS) and s["eps_db_median"] is not None
    assert s["sparsity_pct"] == pytest.approx(100 * hand_made.K / hand_made.N)
    ex = adv.records["examples"]
    assert ex[3]["snr_db"] is None and ex[0]["snr_db"] == pytest.approx(20.0, abs=1e-4)
    assert [e["clean_pred"] for e in ex] == [1, 1, 0, 0, 0] and [e["adv_pred"] for e in ex] == [0, 1, 0, 1, 1]
    assert np.array_equal(
        np.asarray(adv.x_adv)[:, hand_made.K :], waves[:, hand_made.K :]
    )  # untouched beyond the first k samples
    assert s["seconds_per_example"] > 0


def test_zero_perturbation_scores_exactly_zero(tmp_path, hand_waves, hand_made):
    waves, labels = hand_waves
    adv = hand_made.craft(tmp_path, waves, labels, ZeroPerturbation(hand_made.SignModel()))
    s = adv.records["summary"]
    assert s["n_success"] == 0 and s["snr_db"] is None and s["sparsity_pct"] is None
    assert np.array_equal(np.asarray(adv.x_adv), waves)
    for victim in (hand_made.SignModel(), hand_made.ConstantModel()):
        assert evaluate_victim(adv, waves, victim, type(victim).__name__)["asr"] == 0.0


def test_a_killed_crafting_run_resumes_to_the_same_audio(tmp_path, hand_waves, hand_made):
    waves, labels = hand_waves
    reference = hand_made.craft(tmp_path / "ref", waves, labels, hand_made.step(), chunk_size=2)

    class Killed(Exception):
        pass

    class DiesOnSecondChunk(hand_made.StepAttack):
        def perturb(self, x, labels):
            if self.calls == 1:
                raise Killed
            return super().perturb(x, labels)

    with pytest.raises(Killed):
        hand_made.craft(
            tmp_path, waves, labels, DiesOnSecondChunk(hand_made.SignModel(), hand_made.EPS, hand_made.K), chunk_size=2
        )
    assert not (tmp_path / "adv" / "records.json").exists()
    assert sorted(p.name for p in (tmp_path / "adv" / "parts").iterdir()) == ["0000000.npz"]
    resumed_attack = hand_made.step()
    resumed = hand_made.craft(tmp_path, waves, labels, resumed_attack, chunk_size=2)
    assert resumed_attack.calls == 2  # chunks at rows 2 and 4 only
    assert np.array_equal(np.asarray(resumed.x_adv), np.asarray(reference.x_adv))
    assert resumed.records["examples"] == reference.records["examples"]
    assert not (tmp_path / "adv" / "parts").exists()
    again = hand_made.step()
    hand_made.craft(tmp_path, waves, labels, again, chunk_size=2)
    assert again.calls == 0  # finished sets are reused


def test_subset_rows_keep_their_split_indices(tmp_path, hand_waves, hand_made):
    waves, labels = hand_waves
    items = [{"path": f"clip{i}.wav"} for i in range(len(waves))]
    adv = craft_adversarial_set(
        hand_made.step(), waves, labels, np.array([0, 3]), tmp_path, items=items, perceptual=False
    )
    again = AdversarialSet.load(tmp_path)
    assert again.indices.tolist() == [0, 3] and again.labels.tolist() == [1, 0]
    assert [e["path"] for e in adv.records["examples"]] == ["clip0.wav", "clip3.wav"]
    assert evaluate_victim(again, waves, hand_made.SignModel(), "sign")["asr"] == 1.0


def test_perceptual_failures_are_counted_not_averaged(tmp_path, hand_waves, hand_made):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    waves, labels = hand_waves
    adv = craft_adversarial_set(hand_made.step(), waves, labels, np.arange(5), tmp_path, perceptual=True)
    pesq = adv.records["summary"]["pesq"]
    # three successful clips of 0.125 s: PESQ needs 0.25 s, and one of them is silent
    assert pesq["mean"] is None and pesq["n"] == 0 and pesq["n_failed"] == 3
    assert pesq["reasons"]["silent reference clip"] == 1
    assert adv.records["examples"][1]["pesq"] is None and "pesq_reason" not in adv.records["examples"][1]


def test_file_fingerprint_tracks_content(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"weights")
    b.write_bytes(b"weights")
    assert file_fingerprint(a) == file_fingerprint(b)
    b.write_bytes(b"weightz")
    assert file_fingerprint(a) != file_fingerprint(b)
