"""The paper's tables from ``results.json``, as Markdown, CSV and LaTeX.

* :func:`ser_table` — Tables 2/3: accuracy and UAR (%) of every SER model per split.
* :func:`attack_table` — Tables 4/5: per threat model and attacker, SNR (dB), sparsity (%), seconds
  per example, PESQ and STOI, then the ASR (%) on every victim; one column per split ("Val"/"Test").
  With ``metric="correct_to_wrong"`` the victim columns hold the stricter correct→wrong rate instead.
* the same layout restricted to the ablation rows is Table 6.
* beyond the paper (the experiment's robustness lab): :func:`robustness_table` (defended victims:
  clean accuracy, its cost, robust accuracy and ASR), :func:`budget_table` (budgeted STAA-Net
  generators: target, achieved, λ), :func:`targeted_table` (success per target class) and
  :func:`curves_table` (ASR and robust accuracy against measured sparsity, the figures' numbers).

A value that does not exist (no successful example, so no SNR; a metric not computed) prints as "–",
never as 0. A :class:`Table` keeps two-level column headers (group, sub-column) so that each format
can render them natively: merged cells in LaTeX and HTML, "group sub" names in Markdown and CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from staa.outputs import write_text

MISSING = "–"
SPLIT_NAMES = {"train": "Train", "val": "Val", "test": "Test"}
GROUPS_OF_ATTACK_TABLE = ("comparison", "control")


@dataclass
class Table:
    """A rectangular table with two-level headers: ``columns`` are (group, name) pairs."""

    name: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[list[str]] = field(default_factory=list)

    def flat_columns(self) -> list[str]:
        return [f"{g} {c}".strip() for g, c in self.columns]

    def header_groups(self) -> list[tuple[str, int]]:
        """Consecutive columns sharing a group, as (group, span) — merged header cells."""
        spans: list[tuple[str, int]] = []
        for group, _ in self.columns:
            if spans and spans[-1][0] == group and group:
                spans[-1] = (group, spans[-1][1] + 1)
            else:
                spans.append((group, 1))
        return spans

    def markdown(self) -> str:
        head = self.flat_columns()
        lines = [f"**{self.title}**", "", _md_row(head), _md_row(["---"] * len(head))]
        lines += [_md_row(r) for r in self.rows]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.flat_columns())
        writer.writerows(self.rows)
        return buf.getvalue()

    def latex(self) -> str:
        n = len(self.columns)
        groups = self.header_groups()
        top, rules, col = [], [], 1
        for group, span in groups:
            top.append(rf"\multicolumn{{{span}}}{{c}}{{{_tex(group)}}}" if span > 1 else _tex(group))
            if group and span > 1:
                rules.append(rf"\cmidrule(lr){{{col}-{col + span - 1}}}")
            col += span
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{_tex(self.title)}}}",
            rf"\begin{{tabular}}{{ll{'r' * (n - 2)}}}" if n > 2 else rf"\begin{{tabular}}{{{'l' * n}}}",
            r"\toprule",
            " & ".join(top) + r" \\",
            *([" ".join(rules)] if rules else []),
            " & ".join(_tex(c) for _, c in self.columns) + r" \\",
            r"\midrule",
            *(" & ".join(_tex(v) for v in row) + r" \\" for row in self.rows),
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
        ]
        return "\n".join(lines) + "\n"

    def write(self, directory: str | Path) -> list[Path]:
        """Write ``<name>.md``, ``<name>.csv`` and ``<name>.tex`` atomically; return their paths."""
        paths = []
        for ext, text in (("md", self.markdown()), ("csv", self.csv()), ("tex", self.latex())):
            path = Path(directory) / f"{self.name}.{ext}"
            write_text(path, text)
            paths.append(path)
        return paths


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |"


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--"}


def _tex(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


# ---- number formatting ---------------------------------------------------------------------------
def percent(v: float | None) -> str:
    """A rate in [0, 1] as a percentage with two decimals, as in the paper."""
    return MISSING if v is None else f"{100 * v:.2f}"


def decimals(v: float | None) -> str:
    return MISSING if v is None else f"{v:.2f}"


def seconds(v: float | None) -> str:
    """Two decimals from 1 s up; three significant digits below, so 0.004 s does not print as 0.00."""
    if v is None:
        return MISSING
    return f"{v:.2f}" if v >= 0.995 else f"{v:.3g}"


def _mean_of(summary: dict[str, Any] | None) -> float | None:
    return None if summary is None else summary.get("mean")


# ---- the paper's tables ----------------------------------------------------------------------------
def ser_table(results: dict[str, Any]) -> Table:
    """Tables 2/3: accuracy and UAR (%) of each SER model on each evaluated split."""
    splits = results["splits"]
    columns = [("", "Model")]
    for s in splits:
        columns += [(SPLIT_NAMES.get(s, s), "Accuracy"), (SPLIT_NAMES.get(s, s), "UAR")]
    table = Table("ser", f"SER models' performance (accuracy / UAR, %) on {results['corpus']['name']}", columns)
    for model in results["models"].values():
        row = [model["label"]]
        for s in splits:
            m = model["splits"].get(s, {})
            row += [percent(m.get("accuracy")), percent(m.get("uar"))]
        table.rows.append(row)
    return table


Measure = tuple[str, Callable[[dict[str, Any]], str]]
MEASURES: list[Measure] = [
    ("SNR (dB)", lambda r: decimals(r["snr_db"])),
    ("Sparsity (%)", lambda r: decimals(r["sparsity_pct"])),
    ("Mask Jaccard", lambda r: decimals(r.get("mask_jaccard"))),
    ("Mask periodicity", lambda r: decimals(r.get("mask_periodicity"))),
    ("Speed (s)", lambda r: seconds(r["seconds_per_example"])),
    ("PESQ", lambda r: decimals(_mean_of(r.get("pesq")))),
    ("STOI", lambda r: decimals(_mean_of(r.get("stoi")))),
]


def attack_table(
    results: dict[str, Any],
    *,
    select: Callable[[dict[str, Any]], bool] = lambda row: row["group"] in GROUPS_OF_ATTACK_TABLE,
    metric: str = "asr",
    name: str = "attacks",
    title: str | None = None,
) -> Table:
    """Tables 4/5/6: one row per (threat model, attacker) of the selected result rows, a column per split."""
    splits, victims, models = results["splits"], results["victims"], results["models"]
    columns = [("", "Threat model"), ("", "Attacker")]
    for label, _ in MEASURES:
        columns += [(label, SPLIT_NAMES.get(s, s)) for s in splits]
    rate = "ASR" if metric == "asr" else "correct→wrong"
    for v in victims:
        columns += [(f"{models[v]['label']} {rate} (%)", SPLIT_NAMES.get(s, s)) for s in splits]
    corpus = results["corpus"]["name"]
    table = Table(name, title or f"Attack performance on {corpus}; victim columns: {rate} (%)", columns)
    by_key: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    labels: dict[tuple[str, str], str] = {}
    for row in results["attacks"]:
        if not select(row):
            continue
        key = (row["threat"], row["attacker"])
        by_key.setdefault(key, {})[row["split"]] = row
        labels[key] = row["label"]
    threats = results["threat_models"]
    for (threat, attacker), per_split in sorted(by_key.items(), key=lambda kv: threats.index(kv[0][0])):
        cells = [models[threat]["label"], labels[(threat, attacker)]]
        for _, fmt in MEASURES:
            cells += [fmt(per_split[s]) if s in per_split else MISSING for s in splits]
        for v in victims:
            cells += [percent(per_split[s][metric].get(v)) if s in per_split else MISSING for s in splits]
        table.rows.append(cells)
    return table


# ---- beyond the paper ------------------------------------------------------------------------------
def robustness_table(
    rows: Sequence[Mapping[str, Any]],
    *,
    name: str = "robustness",
    title: str = "Robust accuracy (%) per victim, defense and attack",
    model_labels: Mapping[str, str] | None = None,
    attack_labels: Mapping[str, str] | None = None,
) -> Table:
    """Rows of :func:`staa.evaluation.robustness.robustness_row` (percentages; the clean cost in points).

    Rows that say which model the clips were crafted on (``threat``) get a "crafted on" column.
    """
    models, attacks = model_labels or {}, attack_labels or {}
    crafted_on = any("threat" in r for r in rows)
    columns = [("", c) for c in (("crafted on",) if crafted_on else ()) + ("victim", "defense", "attack", "mode")]
    columns += [("clean", "acc"), ("clean", "cost"), ("attacked", "robust acc"), ("attacked", "ASR")]
    table = Table(name, title, columns)
    for r in rows:
        table.rows.append(
            ([models.get(r["threat"], r["threat"])] if crafted_on else [])
            + [models.get(r["victim"], r["victim"]), r["defence"], attacks.get(r["attack"], r["attack"]), r["mode"],
               percent(r["clean_accuracy"]), f"{100 * r['clean_cost']:+.1f}", percent(r["robust_accuracy"]), percent(r["asr"])]
        )
    return table


def _labels(results: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Display names of the models and of the attackers (by id) in ``results``."""
    return {k: m["label"] for k, m in results["models"].items()}, {r["attacker"]: r["label"] for r in results["attacks"]}


def experiment_robustness_table(results: dict[str, Any]) -> Table:
    section = results["robustness"]
    models, attacks = _labels(results)
    split = SPLIT_NAMES.get(section["split"], section["split"])
    title = f"Robust accuracy (%) of defended victims on {results['corpus']['name']} ({split}); clean cost in points"
    return robustness_table(section["rows"], title=title, model_labels=models, attack_labels=attacks)


def budget_table(results: dict[str, Any]) -> Table:
    """Budgeted STAA-Net generators: the budget, what the selected checkpoint achieved on validation, and λ."""
    models = results["models"]
    columns = [("", "Threat model"), ("", "Attacker"), ("Budget", "kind"), ("Budget", "target"), ("Val", "achieved"),
               ("Val", "sparsity (%)"), ("Val", "SNR (dB)"), ("Val", "ASR (%)"), ("λ", "weight"), ("λ", "initial"),
               ("λ", "at best"), ("λ", "final")]
    table = Table("budgets", f"Budgeted STAA-Net generators on {results['corpus']['name']} (validation split)", columns)
    for b in results["budgets"]:
        table.rows.append([
            models[b["threat"]]["label"], b["label"], b["budget"], decimals(b["target"]), decimals(b["achieved"]),
            decimals(b["val_sparsity_pct"]), decimals(b["val_snr_db"]), percent(b["val_asr"]), b["weight"],
            f"{b['initial_lambda']:.3g}", f"{b['lambda_at_best']:.3g}", f"{b['final_lambda']:.3g}",
        ])
    return table


def targeted_success_table(result: dict[str, Any], title: str) -> Table:
    """One row per target class (by name), then the macro mean and the overall (micro) rate."""
    columns = [("", "target"), ("", "n"), ("", "success (%)")]
    columns += [("successful", "SNR (dB)"), ("successful", "sparsity (%)")]
    table = Table("targeted", title, columns)
    for label, e in result["per_target"].items():
        table.rows.append([label, str(e["n"]), percent(e["success_rate"]), decimals(e.get("mean_snr_db")),
                           decimals(e.get("mean_sparsity_pct"))])  # fmt: skip
    table.rows.append(["mean over targets", "", percent(result["mean_success_rate"]), "", ""])
    table.rows.append(["overall", str(sum(e["n"] for e in result["per_target"].values())),
                       percent(result["overall_success_rate"]), "", ""])  # fmt: skip
    return table


def targeted_table(results: dict[str, Any]) -> Table:
    """Targeted success (%) per target class on the threat model and on every victim, plus the macro mean."""
    section, models = results["targeted"], results["models"]
    victims = section["victims"]
    columns = [("", "Threat model"), ("", "Attacker"), ("", "Target"), ("", "n"), ("On the threat model", "success (%)"),
               ("On the threat model", "SNR (dB)"), ("On the threat model", "Sparsity (%)")]
    columns += [("Victim success (%)", models[v]["label"]) for v in victims]
    split = SPLIT_NAMES.get(section["split"], section["split"])
    title = f"Targeted success (%) per target class on {results['corpus']['name']} ({split}); victim success = predicts the target"
    table = Table("targeted", title, columns)
    for row in section["rows"]:
        head = [models[row["threat"]]["label"], row["label"]]
        for cls, e in row["per_target"].items():
            table.rows.append(head + [cls, str(e["n"]), percent(e["success_rate"]), decimals(e.get("mean_snr_db")),
                                      decimals(e.get("mean_sparsity_pct"))] + [percent(e["victims"].get(v)) for v in victims])
        table.rows.append(head + ["mean", str(sum(e["n"] for e in row["per_target"].values())),
                                  percent(row["mean_success_rate"]), MISSING, MISSING]
                          + [percent(row["victims_mean"].get(v)) for v in victims])
    return table


CURVE_KINDS = {"sweep": "budget sweep", "minimum_norm": "minimum-norm", "point": "one set"}


def curves_table(results: dict[str, Any]) -> Table:
    """The curves section, one row per point and victim: budget, measured sparsity, ASR, robust accuracy."""
    section, models = results["curves"], results["models"]
    columns = [("", c) for c in ("Threat model", "Attacker", "Kind", "Victim", "Budget k (%)", "Sparsity (%)", "ASR (%)",
                                 "Robust accuracy (%)", "n")]  # fmt: skip
    split = SPLIT_NAMES.get(section["split"], section["split"])
    title = (f"ASR and robust accuracy (%) versus sparsity on {results['corpus']['name']} ({split}); sparsity measured "
             "on the clips that fooled the threat model")  # fmt: skip
    table = Table("curves", title, columns)
    for p in section["points"]:
        budget = MISSING if p["budget"] is None else f"{p['budget']:g}"
        table.rows.append([models[p["threat"]]["label"], p["label"], CURVE_KINDS[p["kind"]], models[p["victim"]]["label"],
                           budget, decimals(p["sparsity_pct"]), percent(p["asr"]), percent(p["robust_accuracy"]),
                           str(p["n_clips"])])  # fmt: skip
    return table


def paper_tables(results: dict[str, Any]) -> list[Table]:
    """Every table this experiment has data for: SER, attacks (ASR and correct→wrong), ablations, and the
    robustness lab's sections (robustness, budgets, targeted, curves) when the experiment configured them.

    The ablation table (Table 6) holds the ablation variants next to the full STAA-Net rows.
    """
    tables = [ser_table(results)]
    if any(r["group"] in GROUPS_OF_ATTACK_TABLE for r in results["attacks"]):
        tables.append(attack_table(results))
        tables.append(attack_table(results, metric="correct_to_wrong", name="attacks_correct_to_wrong"))
    if any(r["group"] == "ablation" for r in results["attacks"]):
        corpus = results["corpus"]["name"]
        tables.append(
            attack_table(
                results,
                select=lambda row: row["group"] == "ablation" or row["attack"] == "staa",
                name="ablations",
                title=f"Ablation study of STAA-Net on {corpus}; victim columns: ASR (%)",
            )
        )
    if results.get("robustness"):
        tables.append(experiment_robustness_table(results))
    if results.get("budgets"):
        tables.append(budget_table(results))
    if results.get("targeted"):
        tables.append(targeted_table(results))
    if results.get("curves"):
        tables.append(curves_table(results))
    return tables


def write_tables(results: dict[str, Any], directory: str | Path) -> list[Table]:
    tables = paper_tables(results)
    for t in tables:
        t.write(directory)
    return tables
