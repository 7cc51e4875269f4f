"""The paper's tables (SER, attack comparison, ablations) and the robustness lab's (robustness, targeted,
curves) in Markdown, CSV and LaTeX; rates with intervals as ``x ± h``, older results without them bare."""

from __future__ import annotations

import csv
import io

from staa.evaluation.tables import (
    MISSING,
    Table,
    attack_table,
    curves_table,
    experiment_robustness_table,
    paper_tables,
    plus_minus,
    seconds,
    ser_table,
    targeted_table,
    write_tables,
)


def _csv_rows(table: Table) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(table.csv())))


def test_ser_table_has_accuracy_and_uar_per_split(fake_results):
    table = ser_table(fake_results)
    assert table.flat_columns() == ["Model", "Val Accuracy", "Val UAR", "Test Accuracy", "Test UAR"]
    assert table.rows == [["Emo18", "78.18", "77.39", "79.31", "78.80"], ["Zhao19", "76.40", "75.71", "72.39", "72.10"]]


def test_attack_table_layout_follows_the_paper(fake_results):
    table = attack_table(fake_results)
    groups = [g for g, _ in table.header_groups()]
    assert groups == ["", "", "SNR (dB)", "Median SNR (dB)", "ε (median)", "ε (dB under peak, median)", "Sparsity (%)", "Mask Jaccard", "Mask periodicity", "Speed (s)", "PESQ", "STOI",
                      "Emo18 ASR (%)", "Zhao19 ASR (%)"]  # fmt: skip
    rows = _csv_rows(table)
    # comparison and control rows, grouped by threat model (the Zhao19 row comes last although listed once)
    assert [(r["Threat model"], r["Attacker"]) for r in rows] == [
        ("Emo18", "PGD"),
        ("Emo18", "STAA-Net"),
        ("Emo18", "No attack (δ = 0)"),
        ("Zhao19", "PGD"),
    ]
    pgd, staa, zero, zhao = rows
    assert staa["Emo18 ASR (%) Val"] == "82.71" and staa["Zhao19 ASR (%) Test"] == "50.00"
    assert staa["SNR (dB) Val"] == "17.25" and staa["Sparsity (%) Test"] == "12.50"
    assert staa["Speed (s) Val"] == "0.0123" and pgd["Speed (s) Val"] == "1.23"
    assert staa["PESQ Val"] == "4.21" and staa["STOI Val"] == MISSING
    assert zero["Emo18 ASR (%) Val"] == "0.00" and zero["SNR (dB) Val"] == MISSING and zero["PESQ Test"] == MISSING
    assert zhao["Emo18 ASR (%) Val"] == MISSING and zhao["Zhao19 ASR (%) Test"] == "100.00"


def test_correct_to_wrong_variant_and_missing_rates(fake_results):
    rows = _csv_rows(attack_table(fake_results, metric="correct_to_wrong", name="c2w"))
    assert rows[0]["Emo18 correct→wrong (%) Val"] == "90.00" and rows[0]["Zhao19 correct→wrong (%) Val"] == MISSING


def test_ablation_table_holds_the_variants_and_the_full_model(fake_results):
    names = [t.name for t in paper_tables(fake_results)]
    assert names == ["ser", "attacks", "attacks_correct_to_wrong", "ablations"]
    ablations = paper_tables(fake_results)[-1]
    assert [r[1] for r in ablations.rows] == ["STAA-Net", "w/o magnitude loss"]
    assert ablations.rows[1][ablations.flat_columns().index("Sparsity (%) Val")] == "0.00"


def test_markdown_and_latex_renderings(fake_results):
    table = attack_table(fake_results)
    md = table.markdown().splitlines()
    assert md[0] == f"**{table.title}**"
    assert md[2].startswith("| Threat model | Attacker | SNR (dB) Val | SNR (dB) Test |")
    assert md[3] == "| " + " | ".join(["---"] * len(table.columns)) + " |"
    assert len(md) == 4 + len(table.rows)
    tex = table.latex()
    assert r"\multicolumn{2}{c}{SNR (dB)}" in tex and r"\multicolumn{2}{c}{Sparsity (\%)}" in tex
    assert r"\cmidrule(lr){3-4}" in tex
    assert r"No attack (δ = 0) & " in tex and r"\toprule" in tex and tex.count(r"\\") == 2 + len(table.rows)
    assert "--" in tex and "–" not in tex.replace("δ", "")  # the missing-value dash becomes a LaTeX en dash


def test_write_tables_writes_three_formats(tmp_path, fake_results):
    tables = write_tables(fake_results, tmp_path)
    for t in tables:
        for ext in ("md", "csv", "tex"):
            assert (tmp_path / f"{t.name}.{ext}").read_text()
    assert (tmp_path / "ser.csv").read_text().splitlines()[1] == "Emo18,78.18,77.39,79.31,78.80"


def test_seconds_format_keeps_small_times_readable():
    assert seconds(0.004) == "0.004" and seconds(0.01234) == "0.0123" and seconds(418.36) == "418.36"
    assert seconds(None) == MISSING


def test_curves_table_has_one_row_per_point_and_victim(fake_results, fake_curves):
    fake_results["curves"] = fake_curves
    table = paper_tables(fake_results)[-1]
    assert table.name == "curves" and "(Test)" in table.title
    assert _csv_rows(table) == [
        {"Threat model": "Emo18", "Attacker": "PGD", "Kind": "budget sweep", "Victim": "Emo18", "Budget k (%)": "1",
         "Sparsity (%)": "0.98", "ASR (%)": "30.00", "Robust accuracy (%)": "60.00", "n": "10"},
        {"Threat model": "Emo18", "Attacker": "PGD", "Kind": "budget sweep", "Victim": "Emo18", "Budget k (%)": "10",
         "Sparsity (%)": "9.97", "ASR (%)": "90.00", "Robust accuracy (%)": "10.00", "n": "10"},
        {"Threat model": "Emo18", "Attacker": "STAA-Net", "Kind": "one set", "Victim": "Emo18", "Budget k (%)": MISSING,
         "Sparsity (%)": "12.50", "ASR (%)": "82.71", "Robust accuracy (%)": MISSING, "n": "10"},
    ]  # fmt: skip
    assert "bootstrap" not in table.title  # a results.json written before the curves had intervals: bare rates


def test_curves_table_prints_intervals_in_every_format(fake_results, fake_curves):
    for p in fake_curves["points"]:
        p["asr_ci"] = _ci(p["asr"], 0.15)
        p["robust_accuracy_ci"] = None if p["robust_accuracy"] is None else _ci(p["robust_accuracy"], 0.125)
    fake_results["curves"] = fake_curves
    table = curves_table(fake_results)
    rows = _csv_rows(table)
    assert [(r["ASR (%)"], r["Robust accuracy (%)"]) for r in rows] == [("30.0 ± 15.0", "60.0 ± 12.5"),
                                                                        ("90.0 ± 15.0", "10.0 ± 12.5"),
                                                                        ("82.7 ± 15.0", MISSING)]  # fmt: skip
    assert "; ± half-width of the 95 % bootstrap interval over 10 clips" in table.title
    assert "| 30.0 ± 15.0 | 60.0 ± 12.5 |" in table.markdown() and "30.0 ± 15.0 & 60.0 ± 12.5" in table.latex()


def test_plus_minus_prints_a_rate_with_its_uncertainty():
    assert plus_minus(0.625, 0.081) == "62.5 ± 8.1"
    assert plus_minus(0.625, 0.0812, digits=2) == "62.50 ± 8.12"
    assert plus_minus(0.5, None) == "50.0" and plus_minus(0.5, float("nan")) == "50.0"
    assert plus_minus(None, 0.1) == MISSING and plus_minus(float("nan"), 0.1) == MISSING


def _ci(value: float, half: float, n: int = 10) -> dict:
    return {"value": value, "low": value - half, "high": value + half, "half_width": half, "n": n, "level": 0.95}


def test_rates_with_intervals_print_as_plus_minus_and_the_title_counts_clips(fake_results):
    model = fake_results["models"]["emo18"]["splits"]["test"]
    model.update(uar_ci=_ci(0.788, 0.1234), accuracy_ci=_ci(0.7931, 0.05))
    ser = ser_table(fake_results)
    assert ser.rows[0][3:] == ["79.3 ± 5.0", "78.8 ± 12.3"] and ser.rows[1][1] == "76.40"  # Zhao19: no interval
    assert "95 % bootstrap interval over 10 val, 10 test clips" in ser.title
    for row in fake_results["attacks"]:
        row["asr_ci"] = {v: _ci(a, 0.2) for v, a in row["asr"].items()}
    rows = _csv_rows(attack_table(fake_results))
    assert rows[1]["Emo18 ASR (%) Val"] == "82.7 ± 20.0"
    assert "bootstrap interval over" in attack_table(fake_results).title
    assert "bootstrap" not in attack_table(fake_results, metric="correct_to_wrong").title  # no intervals given


def test_seeds_table_gives_mean_and_sd_per_victim(fake_results):
    spread = {"mean": 0.5, "sd": 0.1, "low": 0.4, "high": 0.6, "n": 3}
    fake_results["attack_seeds"] = {"seeds": [0, 1, 2], "rows": [
        {"threat": "emo18", "attacker": "staa", "label": "STAA-Net", "split": "test", "group": "comparison", "n": 10,
         "n_seeds": 3, "asr": {"emo18": spread, "zhao19": None}, "correct_to_wrong": {}},
        {"threat": "emo18", "attacker": "sparsefool", "label": "SparseFool", "split": "test", "group": "comparison",
         "n": 10, "n_seeds": 1, "asr": {"emo18": {**spread, "sd": 0.0, "n": 1}, "zhao19": None}, "correct_to_wrong": {}},
    ]}  # fmt: skip
    table = paper_tables(fake_results)[-1]
    assert table.name == "attack_seeds" and "0, 1, 2" in table.title
    assert table.rows == [["Emo18", "STAA-Net", "Test", "10", "3", "50.0 ± 10.0", MISSING],
                          ["Emo18", "SparseFool", "Test", "10", "1", "50.0", MISSING]]  # fmt: skip


def _robustness_section(**ci: dict) -> dict:
    row = {"threat": "emo18", "split": "test", "victim": "emo18", "defence": "median5", "attack": "pgd",
           "mode": "non-adaptive", "n": 10, "clean_accuracy": 0.7, "clean_cost": 0.1, "robust_accuracy": 0.2, "asr": 0.6,
           "correct_to_wrong": 0.8, "mean_snr_db": 20.0, "mean_sparsity_pct": 5.0, **ci}  # fmt: skip
    return {"split": "test", "rows": [row], "not_run": []}


def test_robustness_table_prints_intervals_and_renders_older_rows_bare(fake_results):
    fake_results["robustness"] = _robustness_section(
        clean_accuracy_ci=_ci(0.7, 0.1), robust_accuracy_ci=_ci(0.2, 0.05), asr_ci=_ci(0.6, 0.2)
    )
    table = experiment_robustness_table(fake_results)
    assert table.rows[0][-4:] == ["70.0 ± 10.0", "+10.0", "20.0 ± 5.0", "60.0 ± 20.0"]
    assert table.title.endswith("; ± half-width of the 95 % bootstrap interval over 10 clips")
    fake_results["robustness"] = _robustness_section()
    old = experiment_robustness_table(fake_results)
    assert old.rows[0][-4:] == ["70.00", "+10.0", "20.00", "60.00"] and "bootstrap" not in old.title


def _targeted_section(with_ci: bool) -> dict:
    def entry(target: int, n: int, rate: float, victims: dict) -> dict:
        e = {"target": target, "n": n, "n_success": round(rate * n), "success_rate": rate, "mean_snr_db": 20.0,
             "mean_sparsity_pct": 1.0, "victims": victims}  # fmt: skip
        if with_ci:
            e.update(success_rate_ci=_ci(rate, 0.1, n), victims_ci={v: _ci(r, 0.2, n) for v, r in victims.items()})
        return e

    per_target = {
        "a": entry(0, 6, 0.5, {"emo18": 0.5, "zhao19": 0.25}),
        "b": entry(1, 4, 1.0, {"emo18": 1.0, "zhao19": 0.5}),
    }
    row = {
        "threat": "emo18",
        "attacker": "pgd",
        "attack": "pgd",
        "label": "PGD",
        "split": "test",
        "per_target": per_target,
        "mean_success_rate": 0.75,
        "overall_success_rate": 0.7,
        "victims_mean": {"emo18": 0.75, "zhao19": 0.375},
    }
    return {"split": "test", "classes": ["a", "b"], "victims": ["emo18", "zhao19"], "rows": [row]}


def test_targeted_table_prints_per_target_intervals_and_bare_means(fake_results):
    fake_results["targeted"] = _targeted_section(with_ci=True)
    table = targeted_table(fake_results)
    assert [r[4] for r in table.rows] == ["50.0 ± 10.0", "100.0 ± 10.0", "75.00"]
    assert table.rows[0][-2:] == ["50.0 ± 20.0", "25.0 ± 20.0"] and table.rows[2][-2:] == ["75.00", "37.50"]
    assert "interval over each target's n clips, the means over targets without" in table.title
    fake_results["targeted"] = _targeted_section(with_ci=False)
    old = targeted_table(fake_results)
    assert [r[4] for r in old.rows] == ["50.00", "100.00", "75.00"] and old.rows[0][-1] == "25.00"
    assert "bootstrap" not in old.title
