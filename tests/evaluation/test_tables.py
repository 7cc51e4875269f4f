"""The paper's tables (SER, attack comparison, ablations) in Markdown, CSV and LaTeX."""

from __future__ import annotations

import csv
import io

from staa.evaluation.tables import MISSING, Table, attack_table, paper_tables, seconds, ser_table, write_tables


def _csv_rows(table: Table) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(table.csv())))


def test_ser_table_has_accuracy_and_uar_per_split(fake_results):
    table = ser_table(fake_results)
    assert table.flat_columns() == ["Model", "Val Accuracy", "Val UAR", "Test Accuracy", "Test UAR"]
    assert table.rows == [["Emo18", "78.18", "77.39", "79.31", "78.80"], ["Zhao19", "76.40", "75.71", "72.39", "72.10"]]


def test_attack_table_layout_follows_the_paper(fake_results):
    table = attack_table(fake_results)
    groups = [g for g, _ in table.header_groups()]
    assert groups == ["", "", "SNR (dB)", "Sparsity (%)", "Mask Jaccard", "Mask periodicity", "Speed (s)", "PESQ", "STOI",
                      "Emo18 ASR (%)", "Zhao19 ASR (%)"]  # fmt: skip
    rows = _csv_rows(table)
    # comparison and control rows, grouped by threat model (the Zhao19 row comes last although listed once)
    assert [(r["Threat model"], r["Attacker"]) for r in rows] == [
        ("Emo18", "PGD"), ("Emo18", "STAA-Net"), ("Emo18", "No attack (δ = 0)"), ("Zhao19", "PGD")
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
