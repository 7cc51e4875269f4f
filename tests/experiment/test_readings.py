"""The report's readings: audible rows, and "positions matter" only when a generator beats both mask controls."""

from __future__ import annotations

from typing import Any

from staa.experiment.readings import AUDIBLE_SNR_DB, audible_rows, position_readings


def _row(attacker: str, attack: str, n_success: int, snr_median: float | None = 30.0) -> dict[str, Any]:
    return {
        "threat": "emo18",
        "attacker": attacker,
        "attack": attack,
        "label": attacker,
        "split": "test",
        "n": 50,
        "n_success": n_success,
        "snr_db_median": snr_median,
    }


def test_rows_under_the_audibility_limit_are_flagged_and_only_those():
    rows = [
        _row("pgd", "pgd", 40, AUDIBLE_SNR_DB - 4),
        _row("fmn", "fmn", 40, AUDIBLE_SNR_DB + 1),
        _row("zero", "zero", 0, None),
        _row("authors_shift", "zero", 5, -3.0),
    ]  # the shifted clip of a δ = 0 control is not a perturbation
    assert [r["attacker"] for r in audible_rows(rows)] == ["pgd"]


def test_positions_matter_only_when_the_generator_beats_both_controls():
    beats = [
        _row("staa", "staa", 30),
        _row("staa-random_mask", "staa_mask_control", 20),
        _row("staa-comb_mask", "staa_mask_control", 10),
    ]
    (reading,) = position_readings(beats)
    assert reading["positions_matter"] and "positions matter" in reading["text"]
    assert reading["margins"] == {"random": 20.0, "comb": 40.0}
    ties = [beats[0], _row("staa-random_mask", "staa_mask_control", 30), beats[2]]
    (reading,) = position_readings(ties)
    assert not reading["positions_matter"] and "not shown to matter" in reading["text"]
    (reading,) = position_readings(beats[:2])  # the comb control was switched off: no claim either way
    assert not reading["positions_matter"] and "not compared with both" in reading["text"]
    assert position_readings([beats[0]]) == []
