"""The report's summary table: one row per attacker on one split, threat and transfer ASR, sparsity, SNR, speed."""

from __future__ import annotations

from staa.evaluation.summary import summary_split, summary_table
from staa.evaluation.table_format import MISSING


def _rows_of(results, split="test"):
    return [r for r in results["attacks"] if r["split"] == split and r["group"] in ("comparison", "control")]


def test_one_row_per_attacker_of_the_test_split(fake_results):
    table = summary_table(fake_results)
    expected = _rows_of(fake_results)
    assert [(row[0], row[1]) for row in table.rows] == [
        (fake_results["models"][r["threat"]]["label"], r["label"]) for r in expected
    ]
    assert "w/o magnitude loss" not in [row[1] for row in table.rows]  # ablations stay in their own table
    assert "(Test, 10 clips)" in table.title


def test_values_come_from_the_rows_of_that_split(fake_results):
    fake_results["attacks"][0]["asr"] = {"emo18": 0.1, "zhao19": 0.2}  # the val row of emo18/PGD must not be read
    table = summary_table(fake_results)
    columns = [c for _, c in table.columns]
    assert columns == ["Threat model", "Attacker", "Threat ASR (%)", "Emo18", "Zhao19", "Sparsity (%)", "SNR (dB)",
                       "s per clip"]  # fmt: skip
    for row, r in zip(table.rows, _rows_of(fake_results)):
        cells = dict(zip(columns, row))
        assert cells["Threat ASR (%)"] == f"{100 * r['asr'][r['threat']]:.2f}"
        own = fake_results["models"][r["threat"]]["label"]
        assert cells[own] == MISSING  # the threat's own rate is the threat ASR, not a transfer
        other = "Zhao19" if own == "Emo18" else "Emo18"
        assert cells[other] == f"{100 * r['asr'][other.lower()]:.2f}"
        assert cells["Sparsity (%)"] == (MISSING if r["sparsity_pct"] is None else f"{r['sparsity_pct']:.2f}")
        assert cells["SNR (dB)"] == (MISSING if r["snr_db"] is None else f"{r['snr_db']:.2f}")
    pgd = dict(zip(columns, table.rows[0]))
    assert pgd["s per clip"] == "1.23"


def test_rates_carry_their_intervals(fake_results):
    pgd = next(r for r in fake_results["attacks"] if r["split"] == "test" and r["attacker"] == "pgd")
    pgd["asr_ci"] = {"emo18": {"half_width": 0.081}, "zhao19": {"half_width": 0.15}}
    table = summary_table(fake_results)
    assert table.rows[0][2:5] == ["82.7 ± 8.1", MISSING, "50.0 ± 15.0"]
    assert "95 % bootstrap interval" in table.title


def test_a_threat_that_is_no_victim_reads_its_success_count(fake_results):
    fake_results["victims"] = ["zhao19"]
    for r in fake_results["attacks"]:
        r["asr"].pop("emo18", None)
    table = summary_table(fake_results)
    row, r = table.rows[0], _rows_of(fake_results)[0]
    assert [c for _, c in table.columns][2:4] == ["Threat ASR (%)", "Zhao19"]
    assert row[2] == f"{100 * r['n_success'] / r['n']:.2f}" and row[3] == f"{100 * r['asr']['zhao19']:.2f}"


def test_without_a_test_split_the_last_split_is_summarised(fake_results):
    fake_results["splits"] = ["val"]
    assert summary_split(fake_results) == "val"
    assert "(Val, 10 clips)" in summary_table(fake_results).title


def test_repeats_over_seeds_add_the_threat_asr_mean_and_sd(fake_results):
    spread = {"mean": 0.5, "sd": 0.1, "low": 0.4, "high": 0.6, "n": 3}
    fake_results["attack_seeds"] = {"seeds": [0, 4], "rows": [
        {"threat": "emo18", "attacker": "staa", "label": "STAA-Net", "split": "test", "group": "comparison", "n": 10,
         "n_seeds": 2, "asr": {"emo18": spread, "zhao19": {**spread, "mean": 0.9}}, "correct_to_wrong": {}},
        {"threat": "emo18", "attacker": "staa", "label": "STAA-Net", "split": "val", "group": "comparison", "n": 10,
         "n_seeds": 2, "asr": {"emo18": {**spread, "mean": 0.2}}, "correct_to_wrong": {}},
        {"threat": "zhao19", "attacker": "pgd", "label": "PGD", "split": "test", "group": "comparison", "n": 10,
         "n_seeds": 1, "asr": {"zhao19": {**spread, "mean": 0.7, "sd": 0.0, "n": 1}}, "correct_to_wrong": {}},
    ]}  # fmt: skip
    table = summary_table(fake_results)
    columns = [c for _, c in table.columns]
    assert columns[2:4] == ["Threat ASR (%)", "Threat ASR over seeds (%)"]
    assert "attack seeds 0, 4" in table.title
    by_row = {(row[0], row[1]): row[3] for row in table.rows}
    assert by_row[("Emo18", "STAA-Net")] == "50.0 ± 10.0"  # the test row's threat victim, not the val row's
    assert by_row[("Zhao19", "PGD")] == "70.0"  # one seed: no sd
    assert by_row[("Emo18", "PGD")] == MISSING  # not repeated


def test_without_repeats_there_is_no_seeds_column(fake_results):
    assert "Threat ASR over seeds (%)" not in [c for _, c in summary_table(fake_results).columns]
