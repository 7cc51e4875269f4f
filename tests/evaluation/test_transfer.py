"""Transfer evaluation on hand-made clips whose outcomes are computed by hand.

:class:`SignModel` predicts class 1 when the first sample is positive and class 0 otherwise (it skips
the usual standardisation, so raw amplitudes decide). :class:`StepAttack` adds ±ε to the first ``k``
samples, towards the other class, so which clips flip, their δ, SNR and sparsity are known in advance.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from staa.attacks.base import Attack
from staa.attacks.zero import ZeroPerturbation
from staa.evaluation.adversarial_set import AdversarialSet, craft_adversarial_set, file_fingerprint
from staa.evaluation.transfer import evaluate_victim, transfer_row
from staa.models.base import SERConfig, SERModel

EPS, K, N = 0.05, 100, 2_000


class SignModel(SERModel):
    def __init__(self) -> None:
        super().__init__(SERConfig(num_classes=2))
        self.scale = nn.Parameter(torch.tensor(100.0))

    def forward(self, waveform: Tensor) -> Tensor:
        x0 = waveform[:, 0]
        return torch.stack([-self.scale * x0, self.scale * x0], 1)


class ConstantModel(SERModel):
    """Always class 0, whatever the input: no attack can flip it."""

    def __init__(self) -> None:
        super().__init__(SERConfig(num_classes=2))
        self.bias = nn.Parameter(torch.tensor([1.0, 0.0]))

    def forward(self, waveform: Tensor) -> Tensor:
        return self.bias.expand(len(waveform), 2) + 0 * waveform[:, :1]


class StepAttack(Attack):
    """δ = ±ε on the first ``k`` samples: + when it moves towards class 1, − towards class 0."""

    name = "step"

    def __init__(self, model: nn.Module, eps: float, k: int, **kwargs) -> None:
        super().__init__(model, eps, **kwargs)
        self.k = k
        self.calls = 0

    def perturb(self, x: Tensor, labels: Tensor) -> Tensor:
        self.calls += 1
        up = labels == 1 if self.targeted else labels == 0
        sign = torch.where(up, 1.0, -1.0)[:, None]
        x_adv = x.clone()
        x_adv[:, : self.k] += sign * self.eps
        return x_adv



@pytest.fixture
def hand_waves() -> tuple[np.ndarray, np.ndarray]:
    """Five clips of N samples with known fates under StepAttack(ε = 0.05, k = 100) on SignModel.

    row 0: x₀ = 0.03, peak 0.5 → flips (0.03 − 0.05 < 0); SNR = 20·log10(0.5/0.05) = 20 dB
    row 1: x₀ = 0.5 → stays class 1
    row 2: x₀ = −0.2 → stays class 0 (−0.2 + 0.05 < 0)
    row 3: silent clip → class 0, flips to class 1 (x₀ = +0.05); its SNR is undefined (NaN)
    row 4: x₀ = −0.01, peak 0.25 → flips; SNR = 20·log10(0.25/0.05) ≈ 13.98 dB
    Labels (ground truth): 1, 1, 1, 0, 0.
    """
    rng = np.random.default_rng(0)
    waves = (0.01 * rng.standard_normal((5, N))).astype(np.float32)
    waves[3] = 0.0
    waves[0, 0], waves[0, 500] = 0.03, 0.5
    waves[1, 0] = 0.5
    waves[2, 0] = -0.2
    waves[4, 0], waves[4, 700] = -0.01, 0.25
    return waves, np.array([1, 1, 1, 0, 0])


def _craft_adversarial_set(tmp_path, waves, labels, attack, **kw):
    return craft_adversarial_set(attack, waves, labels, np.arange(len(waves)), tmp_path / "adv", perceptual=False, **kw)


def test_threat_side_measures_from_x_adv_minus_x(tmp_path, hand_waves):
    waves, labels = hand_waves
    adv = _craft_adversarial_set(tmp_path, waves, labels, StepAttack(SignModel(), EPS, K), chunk_size=2)
    s = adv.records["summary"]
    assert adv.success.tolist() == [True, False, False, True, True]
    assert s["n"] == 5 and s["n_success"] == 3 and s["asr_threat"] == pytest.approx(0.6)
    # SNR over successful clips with a finite value: rows 0 (20 dB) and 4 (13.98 dB); the silent row 3 is counted apart
    assert s["snr_db"] == pytest.approx((20.0 + 20 * math.log10(0.25 / 0.05)) / 2, abs=1e-4)
    assert s["snr_excluded"] == {"zero_perturbation": 0, "silent": 1}
    assert s["sparsity_pct"] == pytest.approx(100 * K / N)
    ex = adv.records["examples"]
    assert ex[3]["snr_db"] is None and ex[0]["snr_db"] == pytest.approx(20.0, abs=1e-4)
    assert [e["clean_pred"] for e in ex] == [1, 1, 0, 0, 0] and [e["adv_pred"] for e in ex] == [0, 1, 0, 1, 1]
    assert np.array_equal(np.asarray(adv.x_adv)[:, K:], waves[:, K:])  # untouched beyond the first k samples
    assert s["seconds_per_example"] > 0


def test_victims_replay_the_same_audio(tmp_path, hand_waves):
    waves, labels = hand_waves
    adv = _craft_adversarial_set(tmp_path, waves, labels, StepAttack(SignModel(), EPS, K))
    white = evaluate_victim(adv, waves, SignModel(), "sign")
    assert white["asr"] == pytest.approx(0.6)
    assert white["correct_to_wrong"] == pytest.approx(0.75)  # correct rows 0, 1, 3, 4; wrong after: 0, 3, 4
    assert white["clean_accuracy"] == pytest.approx(0.8) and white["adv_accuracy"] == pytest.approx(0.2)
    const = evaluate_victim(adv, waves, ConstantModel(), "constant")
    assert const["asr"] == 0.0 and const["correct_to_wrong"] == 0.0
    row = transfer_row(adv, {"sign": white, "constant": const})
    assert row["asr"] == {"sign": pytest.approx(0.6), "constant": 0.0}
    assert row["snr_db"] == adv.records["summary"]["snr_db"]


def test_zero_perturbation_scores_exactly_zero(tmp_path, hand_waves):
    waves, labels = hand_waves
    adv = _craft_adversarial_set(tmp_path, waves, labels, ZeroPerturbation(SignModel()))
    s = adv.records["summary"]
    assert s["n_success"] == 0 and s["snr_db"] is None and s["sparsity_pct"] is None
    assert np.array_equal(np.asarray(adv.x_adv), waves)
    for victim in (SignModel(), ConstantModel()):
        assert evaluate_victim(adv, waves, victim, type(victim).__name__)["asr"] == 0.0


def test_targeted_success_means_hitting_the_target(tmp_path, hand_waves):
    waves, labels = hand_waves
    adv = _craft_adversarial_set(tmp_path, waves, labels, StepAttack(SignModel(), EPS, K, targeted=True), target=1)
    # +ε towards class 1: rows 3 (0 → 0.05) and 4 (−0.01 → 0.04) reach it, rows 0 and 1 stay there,
    # row 2 (−0.2 → −0.15) does not: the victim ends on the target for 4 of 5 clips
    assert adv.records["target"] == 1
    assert evaluate_victim(adv, waves, SignModel(), "sign")["asr"] == pytest.approx(4 / 5)


def test_a_killed_crafting_run_resumes_to_the_same_audio(tmp_path, hand_waves):
    waves, labels = hand_waves
    reference = _craft_adversarial_set(tmp_path / "ref", waves, labels, StepAttack(SignModel(), EPS, K), chunk_size=2)

    class Killed(Exception):
        pass

    class DiesOnSecondChunk(StepAttack):
        def perturb(self, x, labels):
            if self.calls == 1:
                raise Killed
            return super().perturb(x, labels)

    with pytest.raises(Killed):
        _craft_adversarial_set(tmp_path, waves, labels, DiesOnSecondChunk(SignModel(), EPS, K), chunk_size=2)
    assert not (tmp_path / "adv" / "records.json").exists()
    assert sorted(p.name for p in (tmp_path / "adv" / "parts").iterdir()) == ["0000000.npz"]
    resumed_attack = StepAttack(SignModel(), EPS, K)
    resumed = _craft_adversarial_set(tmp_path, waves, labels, resumed_attack, chunk_size=2)
    assert resumed_attack.calls == 2  # chunks at rows 2 and 4 only
    assert np.array_equal(np.asarray(resumed.x_adv), np.asarray(reference.x_adv))
    assert resumed.records["examples"] == reference.records["examples"]
    assert not (tmp_path / "adv" / "parts").exists()
    again = StepAttack(SignModel(), EPS, K)
    _craft_adversarial_set(tmp_path, waves, labels, again, chunk_size=2)
    assert again.calls == 0  # finished sets are reused


def test_victim_results_are_cached_per_weights(tmp_path, hand_waves):
    waves, labels = hand_waves
    adv = _craft_adversarial_set(tmp_path, waves, labels, StepAttack(SignModel(), EPS, K))
    evaluate_victim(adv, waves, SignModel(), "v", key="weights-a")
    cached = adv.directory / "victims" / "v.json"
    record = json.loads(cached.read_text())
    record["asr"] = 0.123  # a cached number is reused as long as the key matches ...
    cached.write_text(json.dumps(record))
    assert evaluate_victim(adv, waves, SignModel(), "v", key="weights-a")["asr"] == 0.123
    # ... and recomputed for other weights
    assert evaluate_victim(adv, waves, SignModel(), "v", key="weights-b")["asr"] == pytest.approx(0.6)


def test_subset_rows_keep_their_split_indices(tmp_path, hand_waves):
    waves, labels = hand_waves
    items = [{"path": f"clip{i}.wav"} for i in range(len(waves))]
    adv = craft_adversarial_set(StepAttack(SignModel(), EPS, K), waves, labels, np.array([0, 3]), tmp_path, items=items, perceptual=False)
    again = AdversarialSet.load(tmp_path)
    assert again.indices.tolist() == [0, 3] and again.labels.tolist() == [1, 0]
    assert [e["path"] for e in adv.records["examples"]] == ["clip0.wav", "clip3.wav"]
    assert evaluate_victim(again, waves, SignModel(), "sign")["asr"] == 1.0


def test_perceptual_failures_are_counted_not_averaged(tmp_path, hand_waves):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    waves, labels = hand_waves
    adv = craft_adversarial_set(StepAttack(SignModel(), EPS, K), waves, labels, np.arange(5), tmp_path, perceptual=True)
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
