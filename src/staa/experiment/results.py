"""The experiment's outputs: ``results.json`` (docs/results-schema.md), the tables, the figures and report.html.

:func:`write_results_and_report` is the last step of :func:`~staa.experiment.runner.run_experiment`: it
assembles the record of the trained models and the attack rows (:func:`results_record`) with the
sections (robustness, targeted, budgets, curves), picks the first successful clips of each comparison
attacker for figures and listening files (:func:`listening_examples`), draws the success-versus-sparsity
figures of the curves section (:func:`curve_figures`), and renders the tables and the report.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from staa.data.base import SPLITS
from staa.evaluation.adversarial_set import AdversarialSet
from staa.evaluation.curves import CurvePoint, plot
from staa.evaluation.figures import plot_example, write_listening_files
from staa.evaluation.report import write_report
from staa.evaluation.tables import write_tables
from staa.experiment.context import ExperimentContext
from staa.experiment.plans import experiment_budget, pretrain_settings
from staa.experiment.readings import AUDIBLE_SNR_DB, audible_rows, position_readings
from staa.io.outputs import write_json
from staa.runtime.reproducibility import provenance

SER_KEYS = ("n", "accuracy", "uar", "accuracy_ci", "uar_ci")  # what results.json keeps of a model's eval.json


def results_record(ctx: ExperimentContext, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``results.json`` without the sections and examples: corpus, models (Tables 2/3), attack rows."""
    models = {}
    for name, spec in ctx.config["models"].items():
        if name not in ctx.models:
            continue
        evaluation = json.loads((ctx.out / "models" / name / "eval.json").read_text())
        models[name] = {
            "label": spec.get("label", name),
            "arch": spec["arch"],
            "adversarial": spec.get("adversarial"),
            "pretrained_on": list(pre["roots"])[1:] if (pre := pretrain_settings(ctx.config, name)) else None,
            "checkpoint": f"models/{name}/best",
            "parameters": ctx.models[name].trainable_parameters(),
            "splits": {
                s: {k: evaluation["splits"][s][k] for k in SER_KEYS if k in evaluation["splits"][s]} for s in ctx.splits
            },  # fmt: skip
        }
    pc = ctx.corpus
    return {
        "schema_version": 1,
        "experiment": ctx.config["name"],
        "provenance": provenance(ctx.config, ctx.seed),
        "corpus": {
            "name": pc.name,
            "classes": pc.classes,
            "sample_rate": pc.sample_rate,
            "length": pc.length,
            "seconds": pc.length / pc.sample_rate,
            "splits": {s: len(pc.split(s)) for s in SPLITS},
        },
        **experiment_budget(ctx.config),
        "readings": {
            "audible_snr_db": AUDIBLE_SNR_DB,
            "audible": audible_rows(rows),
            "positions": position_readings(rows),
        },
        "splits": ctx.splits,
        "threat_models": list(ctx.config["threat_models"]),
        "victims": list(ctx.config["victims"]),
        "models": models,
        "attacks": rows,
        "examples": [],
    }


def listening_examples(ctx: ExperimentContext, results: dict[str, Any]) -> list[dict[str, Any]]:
    """Fig. 3 and listening files for the first successful clips of each comparison attacker (last split)."""
    per_attacker = int(ctx.config["report"]["examples"])
    classes = ctx.corpus.classes
    out = []
    for row in results["attacks"]:
        if row["group"] != "comparison" or row["split"] != ctx.splits[-1] or per_attacker <= 0:
            continue
        adv = AdversarialSet.load(ctx.out / row["adversarial_set"])
        waves = ctx.corpus.split(row["split"]).waves
        chosen = [j for j, e in enumerate(adv.records["examples"]) if e["success"]][:per_attacker]
        for j in chosen:
            e = adv.records["examples"][j]
            stem = f"{row['threat']}-{row['attacker']}-{row['split']}-{e['index']}"
            figure = ctx.out / "figures" / f"{stem}.png"
            audio_dir = ctx.out / "audio" / stem
            clean, x_adv = np.asarray(waves[e["index"]]), np.asarray(adv.x_adv[j])
            title = f"{row['label']} on {results['models'][row['threat']]['label']}: clip {e['index']} ({classes[e['label']]})"
            if not figure.exists():
                plot_example(clean, x_adv, figure, sample_rate=ctx.corpus.sample_rate, title=title)
            audio = {k: ctx.rel(audio_dir / f"{k}.wav") for k in ("clean", "adversarial", "perturbation")}
            if not all((ctx.out / p).exists() for p in audio.values()):
                write_listening_files(audio_dir, clean, x_adv, ctx.corpus.sample_rate)
            snr = e["snr_db"]
            out.append(
                {
                    "threat": results["models"][row["threat"]]["label"],
                    "attacker": row["attacker"],
                    "label": row["label"],
                    "split": row["split"],
                    "index": e["index"],
                    "path": e["path"],
                    "true_class": classes[e["label"]],
                    "clean_class": classes[e["clean_pred"]],
                    "adv_class": classes[e["adv_pred"]],
                    "snr_db": snr,
                    "snr_db_text": "∞"
                    if snr is None and e["sparsity_pct"] == 0
                    else (f"{snr:.2f}" if snr is not None else "–"),
                    "sparsity_pct": e["sparsity_pct"],
                    "figure": ctx.rel(figure),
                    "audio": audio,
                }
            )
    return out


def curve_figures(ctx: ExperimentContext, results: dict[str, Any]) -> dict[str, str]:
    """``figures/curves-<threat>.png`` per threat model: ASR against sparsity, a panel per victim, by label."""
    section, models = results["curves"], results["models"]
    names = [f.name for f in fields(CurvePoint)]
    out = {}
    for threat in results["threat_models"]:
        rows = [r for r in section["points"] if r["threat"] == threat]
        if not rows:
            continue
        points = [CurvePoint(**{**{k: r[k] for k in names if k in r}, "attacker": r["label"], "victim": models[r["victim"]]["label"]})
                  for r in rows]  # fmt: skip
        path = ctx.out / "figures" / f"curves-{threat}.png"
        title = f"Crafted on {models[threat]['label']}, {section['split']} split ({rows[0]['n_clips']} clips)"
        plot(points, path, title=title)
        out[threat] = ctx.rel(path)
    return out


def write_results_and_report(ctx: ExperimentContext, rows: list[dict[str, Any]], sections: dict[str, Any]) -> Path:
    """Write ``results.json``, the tables, the examples' figures and audio, and ``report.html`` (its path)."""
    ctx.log("report: writing results.json, tables, figures and the report")
    results = {**results_record(ctx, rows), **sections}
    results["examples"] = listening_examples(ctx, results)
    if results.get("curves"):
        results["curves"]["figures"] = curve_figures(ctx, results)
    write_json(ctx.out / "results.json", results)
    tables = write_tables(results, ctx.out / "tables")
    return write_report(ctx.out, results, tables)
