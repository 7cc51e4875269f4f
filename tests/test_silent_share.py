"""research/silent_share.py: the share of δ's changed samples that lie in the clean clip's near-silent frames."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def silent(research_script):
    return research_script("silent_share")


def _clip() -> np.ndarray:
    """Four 400-sample frames: silence, speech at 0.5, a breath 30 dB under it, silence at 1e-4."""
    frames = [np.zeros(400), np.full(400, 0.5), np.full(400, 0.5 * 10 ** (-30 / 20)), np.full(400, 1e-4)]
    return np.concatenate(frames).astype(np.float32)


def test_frames_under_the_floor_are_quiet(silent):
    assert silent.quiet_frames(_clip(), floor_db=40.0).tolist() == [True, False, False, True]
    assert silent.quiet_frames(_clip(), floor_db=20.0).tolist() == [True, False, True, True]


def test_the_share_counts_changed_samples_in_quiet_frames(silent):
    clean = _clip()
    adv = clean.copy()
    adv[10:40] += 0.01  # 30 samples in the leading silence
    adv[500:590] -= 0.01  # 90 under the speech
    assert silent.silent_share(clean, adv, floor_db=40.0) == pytest.approx(30 / 120)
    assert silent.silent_share(clean, clean.copy(), floor_db=40.0) == 0.0


def test_a_run_folder_is_read_through_its_indices(silent, tmp_path):
    clean = np.stack([_clip(), _clip() * 0.5, _clip()])
    (tmp_path / "cache" / "corpus-key").mkdir(parents=True)
    np.save(tmp_path / "cache" / "corpus-key" / "test.npy", clean)
    folder = tmp_path / "adversarial" / "emo18" / "pgd" / "test"
    folder.mkdir(parents=True)
    adv = clean[[2, 1]].copy()
    adv[0, 1200:1300] = 0.3  # clip 2: 100 changed samples, all in the trailing silence
    adv[1, 400:500] = 0.1  # clip 1: 100, all under speech
    np.save(folder / "x_adv.npy", adv)
    (folder / "spec.json").write_text(json.dumps({"indices": [2, 1]}))
    assert silent.attacker_shares(tmp_path, "pgd", 40.0, "emo18", "test") == [1.0, 0.0]
