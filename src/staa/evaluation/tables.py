"""The paper's tables from ``results.json``, as Markdown, CSV and LaTeX.

* :func:`ser_table` — Tables 2/3: accuracy and UAR (%) of every SER model per split.
* :func:`attack_table` — Tables 4/5: per threat model and attacker, SNR (dB), sparsity (%), seconds
  per example, PESQ and STOI, then the ASR (%) on every victim; one column per split ("Val"/"Test").
  With ``metric="correct_to_wrong"`` the victim columns hold the stricter correct→wrong rate instead.
* the same layout restricted to the ablation rows is Table 6.
* beyond the paper (the experiment's robustness lab): :func:`robustness_table` (defended victims:
  clean accuracy, its cost, robust accuracy and ASR), :func:`budget_table` (budgeted STAA-Net
  generators: target, achieved, λ), :func:`targeted_table` (success per target class) and
  :func:`curves_table` (ASR and robust accuracy against measured sparsity, the figures' numbers),
  :func:`seeds_table` (ASR as mean ± sd over repeats of the attack step under other seeds) and
  :func:`cross_corpus_table` (each SER model on another corpus's clips of the shared classes).

A rate that comes with its 95 % bootstrap interval over clips (``results.json``: ``uar_ci``, ``asr_ci``, …)
prints as ``62.5 ± 8.1`` (the interval's half-width, one decimal: a few dozen clips do not support two),
and the title says how many clips each split holds; one without prints with two decimals, as in the paper —
so a ``results.json`` written before a table's rates had intervals still renders, with bare rates.
A value that does not exist (no successful example, so no SNR; a metric not computed) prints as "–",
never as 0. :class:`~staa.evaluation.table_format.Table` and the number formats live in
:mod:`staa.evaluation.table_format`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from staa.evaluation.table_format import (
    MISSING,
    SPLIT_NAMES,
    Table,
    clip_counts,
    decimals,
    interval_note,
    mean_of,
    over_seeds,
    percent,
    plus_minus,
    rate,
    seconds,
)

__all__ = ["MISSING", "Table", "attack_table", "paper_tables", "plus_minus", "seconds", "ser_table", "write_tables"]

GROUPS_OF_ATTACK_TABLE = ("comparison", "control")


# ---- the paper's tables ----------------------------------------------------------------------------
def ser_table(results: dict[str, Any]) -> Table:
    """Tables 2/3: accuracy and UAR (%) of each SER model on each evaluated split."""
    splits = results["splits"]
    columns = [("", "Model")]
    for s in splits:
        columns += [(SPLIT_NAMES.get(s, s), "Accuracy"), (SPLIT_NAMES.get(s, s), "UAR")]
    counts = clip_counts({s: (results["corpus"].get("splits") or {}).get(s) for s in splits})
    title = f"SER models' performance (accuracy / UAR, %) on {results['corpus']['name']}"
    if any("uar_ci" in m for model in results["models"].values() for m in model["splits"].values()):
        title += f"; {interval_note(counts)}"
    table = Table("ser", title, columns)
    for model in results["models"].values():
        pooled = model.get("pretrained_on")  # the corpora it was pre-trained on beside this one's training speakers
        row = [model["label"] + (f" (pre-trained with {', '.join(pooled)})" if pooled else "")]
        for s in splits:
            m = model["splits"].get(s, {})
            row += [rate(m.get("accuracy"), m.get("accuracy_ci")), rate(m.get("uar"), m.get("uar_ci"))]
        table.rows.append(row)
    return table


Measure = tuple[str, Callable[[dict[str, Any]], str]]
MEASURES: list[Measure] = [
    ("SNR (dB)", lambda r: decimals(r["snr_db"])),
    ("Median SNR (dB)", lambda r: decimals(r.get("snr_db_median"))),
    ("ε (median)", lambda r: MISSING if r.get("eps_median") is None else f"{r['eps_median']:.4f}"),
    ("ε (dB under peak, median)", lambda r: decimals(r.get("eps_db_median"))),
    ("Sparsity (%)", lambda r: decimals(r["sparsity_pct"])),
    ("Mask Jaccard", lambda r: decimals(r.get("mask_jaccard"))),
    ("Mask periodicity", lambda r: decimals(r.get("mask_periodicity"))),
    ("Speed (s)", lambda r: seconds(r["seconds_per_example"])),
    ("PESQ", lambda r: decimals(mean_of(r.get("pesq")))),
    ("STOI", lambda r: decimals(mean_of(r.get("stoi")))),
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
    measure = "ASR" if metric == "asr" else "correct→wrong"
    for v in victims:
        columns += [(f"{models[v]['label']} {measure} (%)", SPLIT_NAMES.get(s, s)) for s in splits]
    corpus = results["corpus"]["name"]
    title = title or f"Attack performance on {corpus}; victim columns: {measure} (%)"
    attacked = {s: next((r["n"] for r in results["attacks"] if r["split"] == s and "n" in r), None) for s in splits}
    if any(f"{metric}_ci" in r for r in results["attacks"]):
        title += f" {interval_note(clip_counts(attacked))}"
    table = Table(name, title, columns)
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
            cells += [rate(per_split[s][metric].get(v), (per_split[s].get(f"{metric}_ci") or {}).get(v))
                      if s in per_split else MISSING for s in splits]  # fmt: skip
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
    table = Table(name, title + _clips_note(rows, "asr_ci", "n"), columns)
    for r in rows:
        table.rows.append(
            ([models.get(r["threat"], r["threat"])] if crafted_on else [])
            + [
                models.get(r["victim"], r["victim"]),
                r["defence"],
                attacks.get(r["attack"], r["attack"]),
                r["mode"],
                rate(r["clean_accuracy"], r.get("clean_accuracy_ci")),
                f"{100 * r['clean_cost']:+.1f}",
                rate(r["robust_accuracy"], r.get("robust_accuracy_ci")),
                rate(r["asr"], r.get("asr_ci")),
            ]
        )
    return table


def _clips_note(rows: Sequence[Mapping[str, Any]], interval: str, clips: str) -> str:
    """``"; ± half-width … over 49 clips"`` when some row has an ``interval``, the clip counts read from ``clips``;
    empty for rows written without intervals."""
    counts = sorted({r[clips] for r in rows if r.get(interval) is not None})
    return f"; {interval_note(' or '.join(map(str, counts)) + ' clips')}" if counts else ""


def _labels(results: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Display names of the models and of the attackers (by id) in ``results``."""
    return {k: m["label"] for k, m in results["models"].items()}, {
        r["attacker"]: r["label"] for r in results["attacks"]
    }


def experiment_robustness_table(results: dict[str, Any]) -> Table:
    section = results["robustness"]
    models, attacks = _labels(results)
    split = SPLIT_NAMES.get(section["split"], section["split"])
    title = f"Robust accuracy (%) of defended victims on {results['corpus']['name']} ({split}); clean cost in points"
    return robustness_table(section["rows"], title=title, model_labels=models, attack_labels=attacks)


def budget_table(results: dict[str, Any]) -> Table:
    """Budgeted STAA-Net generators: the budget, what the selected checkpoint achieved on validation, and λ."""
    models = results["models"]
    columns = [
        ("", "Threat model"),
        ("", "Attacker"),
        ("Budget", "kind"),
        ("Budget", "target"),
        ("Val", "achieved"),
        ("Val", "sparsity (%)"),
        ("Val", "SNR (dB)"),
        ("Val", "ASR (%)"),
        ("λ", "weight"),
        ("λ", "initial"),
        ("λ", "at best"),
        ("λ", "final"),
    ]
    table = Table("budgets", f"Budgeted STAA-Net generators on {results['corpus']['name']} (validation split)", columns)
    for b in results["budgets"]:
        table.rows.append(
            [
                models[b["threat"]]["label"],
                b["label"],
                b["budget"],
                decimals(b["target"]),
                decimals(b["achieved"]),
                decimals(b["val_sparsity_pct"]),
                decimals(b["val_snr_db"]),
                percent(b["val_asr"]),
                b["weight"],
                f"{b['initial_lambda']:.3g}",
                f"{b['lambda_at_best']:.3g}",
                f"{b['final_lambda']:.3g}",
            ]
        )
    return table


def targeted_success_table(result: dict[str, Any], title: str) -> Table:
    """One row per target class (by name), then the macro mean and the overall (micro) rate."""
    columns = [("", "target"), ("", "n"), ("", "success (%)")]
    columns += [("successful", "SNR (dB)"), ("successful", "sparsity (%)")]
    table = Table("targeted", title + _targets_note(result["per_target"].values()), columns)
    for label, e in result["per_target"].items():
        table.rows.append([label, str(e["n"]), rate(e["success_rate"], e.get("success_rate_ci")),
                           decimals(e.get("mean_snr_db")), decimals(e.get("mean_sparsity_pct"))])  # fmt: skip
    table.rows.append(["mean over targets", "", percent(result["mean_success_rate"]), "", ""])
    table.rows.append(["overall", str(sum(e["n"] for e in result["per_target"].values())),
                       percent(result["overall_success_rate"]), "", ""])  # fmt: skip
    return table


def targeted_table(results: dict[str, Any]) -> Table:
    """Targeted success (%) per target class on the threat model and on every victim, plus the macro mean."""
    section, models = results["targeted"], results["models"]
    victims = section["victims"]
    columns = [
        ("", "Threat model"),
        ("", "Attacker"),
        ("", "Target"),
        ("", "n"),
        ("On the threat model", "success (%)"),
        ("On the threat model", "SNR (dB)"),
        ("On the threat model", "Sparsity (%)"),
    ]
    columns += [("Victim success (%)", models[v]["label"]) for v in victims]
    split = SPLIT_NAMES.get(section["split"], section["split"])
    title = f"Targeted success (%) per target class on {results['corpus']['name']} ({split}); victim success = predicts the target"
    title += _targets_note([e for row in section["rows"] for e in row["per_target"].values()])
    table = Table("targeted", title, columns)
    for row in section["rows"]:
        head = [models[row["threat"]]["label"], row["label"]]
        for cls, e in row["per_target"].items():
            on_victims = [rate(e["victims"].get(v), (e.get("victims_ci") or {}).get(v)) for v in victims]
            table.rows.append(
                head
                + [
                    cls,
                    str(e["n"]),
                    rate(e["success_rate"], e.get("success_rate_ci")),
                    decimals(e.get("mean_snr_db")),
                    decimals(e.get("mean_sparsity_pct")),
                ]
                + on_victims
            )
        table.rows.append(
            head
            + [
                "mean",
                str(sum(e["n"] for e in row["per_target"].values())),
                percent(row["mean_success_rate"]),
                MISSING,
                MISSING,
            ]
            + [percent(row["victims_mean"].get(v)) for v in victims]
        )
    return table


def _targets_note(entries: Sequence[Mapping[str, Any]]) -> str:
    """The interval note of a targeted table: per target over its n clips; the means over targets stay bare
    (:mod:`staa.evaluation.targeted` says why); empty for entries written without intervals."""
    if all(e.get("success_rate_ci") is None for e in entries):
        return ""
    return "; " + interval_note("each target's n clips") + ", the means over targets without"


def seeds_table(results: dict[str, Any]) -> Table:
    """The attack step repeated over seeds: per threat model, attacker and split, every victim's ASR (%)
    as mean ± sample standard deviation over the seeds (one seed: a deterministic attacker or a control)."""
    section, models = results["attack_seeds"], results["models"]
    victims = results["victims"]
    columns = [("", "Threat model"), ("", "Attacker"), ("", "Split"), ("", "n"), ("", "Seeds")]
    columns += [("ASR (%) mean ± sd over seeds", models[v]["label"]) for v in victims]
    seeds = ", ".join(str(s) for s in section["seeds"])
    title = f"Attack success (%) on {results['corpus']['name']} repeated over the attack seeds {seeds}"
    table = Table("attack_seeds", title, columns)
    for row in section["rows"]:
        cells = [models[row["threat"]]["label"], row["label"], SPLIT_NAMES.get(row["split"], row["split"]), str(row["n"]),
                 str(row["n_seeds"])]  # fmt: skip
        cells += [over_seeds(row, v) for v in victims]
        table.rows.append(cells)
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
    table = Table("curves", title + _clips_note(section["points"], "asr_ci", "n_clips"), columns)
    for p in section["points"]:
        budget = MISSING if p["budget"] is None else f"{p['budget']:g}"
        table.rows.append([models[p["threat"]]["label"], p["label"], CURVE_KINDS[p["kind"]], models[p["victim"]]["label"],
                           budget, decimals(p["sparsity_pct"]), rate(p["asr"], p.get("asr_ci")),
                           rate(p["robust_accuracy"], p.get("robust_accuracy_ci")), str(p["n_clips"])])  # fmt: skip
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
    ablated = {r["attack"] for r in results["attacks"] if r["group"] == "ablation"}  # beside the full attack
    if ablated:
        corpus = results["corpus"]["name"]
        tables.append(
            attack_table(
                results,
                select=lambda row: row["group"] == "ablation" or row["attack"] in ablated,
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
    if results.get("attack_seeds"):
        tables.append(seeds_table(results))
    if results.get("cross_corpus"):
        tables.append(cross_corpus_table(results))
    return tables


def cross_corpus_table(results: dict[str, Any]) -> Table:
    """Each SER model on another corpus's clips of the classes both name (the ``cross_corpus`` section)."""
    section, models = results["cross_corpus"], results["models"]
    title = (f"SER models on other corpora ({SPLIT_NAMES.get(section['split'], section['split'])} split; UAR and "
             "accuracy (%) over the classes the model and the corpus both name, ± half-width of the 95 % bootstrap "
             "interval over the clips kept)")  # fmt: skip
    columns = [("", c) for c in ("Model", "Scored on", "Shared classes", "Clips kept", "Left out", "UAR", "Accuracy")]
    table = Table("cross_corpus", title, columns)
    for r in section["rows"]:
        scored_on = r["corpus"] + (" (in its pre-training)" if r.get("in_pretraining") else "")
        table.rows.append([models[r["model"]]["label"], scored_on, str(len(r["shared_classes"])), str(r["n"]),
                           ", ".join(f"{c} {n}" for c, n in r["left_out"].items()) or "none",
                           rate(r["uar"], r.get("uar_ci")), rate(r["accuracy"], r.get("accuracy_ci"))])  # fmt: skip
    return table


def write_tables(results: dict[str, Any], directory: str | Path) -> list[Table]:
    tables = paper_tables(results)
    for t in tables:
        t.write(directory)
    return tables
