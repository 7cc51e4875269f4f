"""The demo experiment end to end on a tiny budget: results.json against its documented schema, the
control row, resuming, refusing to mix settings. Minutes of CPU: marked slow."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from staa.cli import app
from staa.errors import ConfigError

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "results-schema.md"
pytestmark = pytest.mark.slow  # a whole (tiny) experiment: SER models, generators, every attack, the report

TINY = [
    "corpus.options.n_speakers=3",
    "corpus.options.per_emotion=1",
    "corpus.options.seconds=0.3",
    "corpus.seconds=0.3",
    "models.emo18.epochs=1",
    "models.zhao19.epochs=1",
    "max_examples=3",
    "report.chunk_size=2",
    "attackers.pgd.settings.steps=2",
    "attackers.sparsefool.settings.steps=1",
    "attackers.sparsefool.settings.deepfool_steps=2",
    "attackers.onepixel.settings.popsize=4",
    "attackers.onepixel.settings.iterations=1",
    "attackers.staa.train.steps=2",
    "attackers.staa_5.train.steps=2",
    "attackers.staa_unet.train.steps=2",
    "attackers.staa_paper.train.epochs=1",
    "models.emo18_at.epochs=1",
    "models.emo18_at.adversarial.settings.steps=1",
    "attackers.staa_budget={attack: staa, generator: {preset: fast, mask: threshold}, train: {preset: paper, epochs: 1, "
    "budget: {sparsity_pct: 10}}}",
    "attackers.universal.fit.epochs=1",
    "attackers.pgd0.settings.steps=2",
    "attackers.sigma_zero.settings.steps=3",
    "attackers.sparse_rs.settings.queries=4",
]
VICTIMS = {"emo18", "zhao19", "emo18_at"}


def _documented_keys() -> dict[str, set[str]]:
    """First-column keys of every table in docs/results-schema.md, by section heading."""
    sections: dict[str, set[str]] = {}
    heading = None
    for line in SCHEMA_DOC.read_text().splitlines():
        if line.startswith("#"):
            heading = line.lstrip("# ").strip()
            sections[heading] = set()
        m = re.match(r"\| `([a-z_]+)` \|", line)
        if m and heading:
            sections[heading].add(m.group(1))
    return sections


def _run(out: Path, *extra: str):
    args = ["run", "demo", "--out", str(out), "--quiet"]
    for item in (*TINY, *extra):
        args += ["--set", item]
    return CliRunner().invoke(app, args)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = _run(out)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_demo_writes_results_tables_figures_and_report(demo_run):
    out, output = demo_run
    assert output.strip().endswith(f"report: {(out / 'report.html').resolve()}")
    results = json.loads((out / "results.json").read_text())
    docs = _documented_keys()
    assert set(results) == docs["Top level"]
    assert set(results["corpus"]) == docs["`corpus`"]
    for model in results["models"].values():
        assert set(model) == docs["`models.<id>` (Tables 2/3)"]
        assert set(model["splits"]) == {"val", "test"} and 0 <= model["splits"]["test"]["uar"] <= 1
    for row in results["attacks"]:
        assert set(row) == docs["`attacks[]` (Tables 4/5/6)"]
        assert set(row["asr"]) == VICTIMS and row["n"] == 3
    for example in results["examples"]:
        assert set(example) == docs["`examples[]`"]
        assert (out / example["figure"]).exists() and all((out / p).exists() for p in example["audio"].values())
    labels = {(r["attacker"], r["split"]) for r in results["attacks"]}
    generators = ["staa", "staa_5", "staa_unet", "staa_paper", "staa_budget"]
    controls = [f"{g}-{c}" for g in generators for c in ("random_mask", "comb_mask")]
    attackers = ["pgd", "pgd0", "sigma_zero", "sparsefool", "sparse_rs", "onepixel", *generators, "universal", "zero",
                 "authors_shift", *controls]  # fmt: skip
    assert labels == {(a, s) for a in attackers for s in ("val", "test")}
    assert results["provenance"]["config"]["max_examples"] == 3 and results["provenance"]["seed"] == 0
    robustness, targeted = results["robustness"], results["targeted"]
    assert set(robustness) == docs["`robustness` (tables/robustness.*)"]
    assert all(set(r) == docs["`robustness.rows[]`"] for r in robustness["rows"]) and robustness["rows"]
    assert [set(b) for b in results["budgets"]] == [docs["`budgets[]` (tables/budgets.*)"]]
    assert set(targeted) == docs["`targeted` (tables/targeted.*)"]
    assert all(set(r) == docs["`targeted.rows[]`"] for r in targeted["rows"]) and targeted["rows"]
    curves = results["curves"]
    assert set(curves) == docs["`curves` (`tables/curves.*`, `figures/curves-<threat>.png`)"]
    assert all(set(p) == docs["`curves.points[]`"] for p in curves["points"])
    drawn = {p["attacker"]: p["kind"] for p in curves["points"]}
    assert drawn == {
        "pgd": "sweep",
        "pgd0": "sweep",
        "sigma_zero": "minimum_norm",
        "sparsefool": "point",
        "sparse_rs": "point",
        "onepixel": "point",
        "staa": "point",
        "staa_5": "point",
        "staa_unet": "point",
        "staa_paper": "point",
        "staa_budget": "point",
        "universal": "point",
    }
    assert (out / curves["figures"]["emo18"]).exists()
    for name in ("ser", "attacks", "attacks_correct_to_wrong", "robustness", "budgets", "targeted", "curves"):
        for ext in ("md", "csv", "tex"):
            assert (out / "tables" / f"{name}.{ext}").exists()
    assert "<audio" in (out / "report.html").read_text() or not results["examples"]


def test_demo_control_row_is_exactly_zero_and_white_box_asr_matches(demo_run):
    out, _ = demo_run
    results = json.loads((out / "results.json").read_text())
    for row in results["attacks"]:
        if row["attacker"] == "zero":
            assert row["asr"] == dict.fromkeys(VICTIMS, 0.0) and row["n_success"] == 0
        records = json.loads((out / row["adversarial_set"] / "records.json").read_text())
        # the threat model as a victim replays the very audio it was attacked with
        assert row["asr"]["emo18"] == pytest.approx(records["summary"]["asr_threat"])
        assert [e["index"] for e in records["examples"]] == sorted(e["index"] for e in records["examples"])


def test_demo_rerun_skips_finished_work_and_gives_the_same_numbers(demo_run):
    out, _ = demo_run
    watched = [
        out / "models" / "emo18" / "best" / "model.safetensors",
        out / "generators" / "emo18" / "staa" / "best" / "model.safetensors",
        out / "adversarial" / "emo18" / "pgd" / "test" / "x_adv.npy",
        out / "adversarial" / "emo18" / "staa" / "val" / "victims" / "zhao19.json",
    ]
    before = {p: p.stat().st_mtime_ns for p in watched}
    first = json.loads((out / "results.json").read_text())
    result = _run(out)
    assert result.exit_code == 0, result.output
    assert {p: p.stat().st_mtime_ns for p in watched} == before
    second = json.loads((out / "results.json").read_text())
    for key in ("models", "attacks", "examples", "corpus", "robustness", "budgets", "targeted", "curves"):
        for a, b in zip(
            first[key] if isinstance(first[key], list) else [first[key]],
            second[key] if isinstance(second[key], list) else [second[key]],
        ):
            a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))
            if isinstance(a, dict):
                a.pop("seconds_per_example", None), b.pop("seconds_per_example", None)
            assert a == b


def test_demo_refuses_to_mix_settings_in_one_folder(demo_run):
    out, _ = demo_run
    result = _run(out, "models.emo18.lr=0.01")
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError) and "other settings (train.lr: 0.001 → 0.01)" in str(
        result.exception
    )
