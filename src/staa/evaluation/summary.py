"""The report's one compact table: per attacker, how often it fools the threat model and each victim, at
what sparsity, loudness and speed.

The paper's tables (:mod:`staa.evaluation.tables`) give every measure on every split; a reader first
wants to know which attack wins, so this table keeps one split (the test split when the experiment
evaluated it, else its last split) and the five numbers that answer that: threat ASR, transfer ASR per
victim, sparsity, SNR and seconds per clip. Rates carry the half-width of their 95 % bootstrap
interval where ``results.json`` has one (``asr_ci``), as in every other table. When ``attack_seeds``
repeated the attack step, the threat ASR's mean ± sd over the seeds stands beside it: the interval over clips
and the spread over seeds answer different questions.
"""

from __future__ import annotations

from typing import Any

from staa.evaluation.table_format import (
    MISSING,
    SPLIT_NAMES,
    Table,
    decimals,
    interval_note,
    over_seeds,
    rate,
    seconds,
)

SUMMARY_GROUPS = ("comparison", "control")  # the rows of the attack table; ablations stay in their own table


def summary_split(results: dict[str, Any]) -> str:
    """The split the summary reads: ``test`` when evaluated, else the experiment's last split."""
    splits = results["splits"]
    return "test" if "test" in splits else splits[-1]


def summary_table(results: dict[str, Any]) -> Table:
    """One row per (threat model, attacker) of the attack table, on :func:`summary_split`.

    Columns: threat model, attacker, ASR on the threat model, ASR on every other victim (transfer),
    sparsity (%), SNR (dB) and seconds per clip. A victim that is the row's own threat model prints "–"
    in the transfer columns (its rate is the threat ASR). Example::

        | Threat model | Attacker | Threat ASR (%) | Zhao19 transfer ASR (%) | Sparsity (%) | SNR (dB) | s per clip |
        | Emo18        | PGD      | 82.7 ± 8.1     | 50.0 ± 9.0              | 12.50        | 17.25    | 1.23       |
    """
    split = summary_split(results)
    models = results["models"]
    rows = [r for r in results["attacks"] if r["split"] == split and r["group"] in SUMMARY_GROUPS]
    threats = results["threat_models"]
    rows.sort(key=lambda r: threats.index(r["threat"]) if r["threat"] in threats else len(threats))
    transfer = [v for v in results["victims"] if any(v != r["threat"] for r in rows)]
    seeds = _seed_rows(results, split)
    columns = [("", "Threat model"), ("", "Attacker"), ("", "Threat ASR (%)")]
    if seeds:
        columns.append(("", "Threat ASR over seeds (%)"))
    columns += [("Transfer ASR (%)", models[v]["label"]) for v in transfer]
    columns += [("", "Sparsity (%)"), ("", "SNR (dB)"), ("", "s per clip")]
    title = f"Summary on {results['corpus']['name']} ({SPLIT_NAMES.get(split, split)}"
    n = next((r["n"] for r in rows if "n" in r), None)
    title += f", {n} clips)" if n is not None else ")"
    if any(r.get("asr_ci") for r in rows):
        title += f"; {interval_note('the clips')}"
    if seeds:
        title += (
            f"; over seeds: mean ± sd over the attack seeds {', '.join(map(str, results['attack_seeds']['seeds']))}"
        )
    table = Table("summary", title, columns)
    for r in rows:
        cells = [models[r["threat"]]["label"], r["label"], _threat_asr(r)]
        if seeds:
            repeat = seeds.get((r["threat"], r["attacker"]))
            cells.append(MISSING if repeat is None else over_seeds(repeat, r["threat"]))
        cells += [MISSING if v == r["threat"] else _asr(r, v) for v in transfer]
        cells += [decimals(r.get("sparsity_pct")), decimals(r.get("snr_db")), seconds(r.get("seconds_per_example"))]
        table.rows.append(cells)
    return table


def _seed_rows(results: dict[str, Any], split: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The ``attack_seeds`` rows of ``split`` by (threat model, attacker); empty without repeats."""
    section = results.get("attack_seeds") or {"rows": []}
    return {(r["threat"], r["attacker"]): r for r in section["rows"] if r["split"] == split}


def _asr(row: dict[str, Any], victim: str) -> str:
    return rate(row["asr"].get(victim), (row.get("asr_ci") or {}).get(victim))


def _threat_asr(row: dict[str, Any]) -> str:
    """The ASR on the row's threat model: its victim column when the threat is also a victim, else the share
    of clips that fooled it (``n_success / n``, no interval)."""
    if row["threat"] in row["asr"]:
        return _asr(row, row["threat"])
    return rate(row["n_success"] / row["n"] if row.get("n") else None, None)
