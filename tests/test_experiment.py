"""Experiments from YAML: configuration, attacker plans, and the demo end to end on a tiny budget."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from staa.cli import app
from staa.errors import ConfigError
from staa.experiment import load_config, run_experiment
from staa.experiment.config import BUILTIN, apply_override, builtin_path
from staa.experiment.context import claim_folder
from staa.experiment.plans import attacker_plans

SCHEMA_DOC = Path(__file__).resolve().parents[1] / "docs" / "results-schema.md"

TINY = [
    "corpus.options.n_speakers=3", "corpus.options.per_emotion=1", "corpus.options.seconds=0.3", "corpus.seconds=0.3",
    "models.emo18.epochs=1", "models.zhao19.epochs=1", "max_examples=3", "report.chunk_size=2",
    "attackers.pgd.settings.steps=2", "attackers.sparsefool.settings.steps=1", "attackers.sparsefool.settings.deepfool_steps=2",
    "attackers.onepixel.settings.popsize=4", "attackers.onepixel.settings.iterations=1", "attackers.staa.train.epochs=1",
    "attackers.staa.train.warmup_epochs=0",
    "models.emo18_at.epochs=1", "models.emo18_at.adversarial.settings.steps=1",
    "attackers.staa_budget={attack: staa, generator: {preset: fast}, train: {epochs: 1, budget: {sparsity_pct: 10}}}",
    "attackers.universal.fit.epochs=1",
]
VICTIMS = {"emo18", "zhao19", "emo18_at"}


# ---- configuration -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_experiments_load(name):
    config = load_config(name)
    assert config["name"] == name and builtin_path(name).exists()
    assert all(p.label for t in config["threat_models"] for p in attacker_plans(config, t))


def test_paper_protocols_encode_the_papers_settings():
    demos, iemocap = load_config("demos"), load_config("iemocap")
    assert (demos["eps"], demos["corpus"]["seconds"], iemocap["eps"], iemocap["corpus"]["seconds"]) == (0.05, 6.0, 0.01, 8.7)
    for config in (demos, iemocap):
        assert config["threat_models"] == ["emo18", "wav2vec2"]
        assert config["victims"] == ["emo18", "zhao19", "wav2vec2", "wavlm"]
        assert [config["models"][m]["epochs"] for m in config["victims"]] == [30, 30, 20, 20]
    scratch = {p.id: p for p in attacker_plans(iemocap, "emo18")}
    pretrained = {p.id: p for p in attacker_plans(iemocap, "wav2vec2")}
    assert scratch["staa"].train["lambda_s"] == pytest.approx(1e-5)  # ×0.1 for the scratch threat model
    assert "lambda_s" not in pretrained["staa"].train  # the paper preset's 1e-4
    assert (scratch["pgd"].settings["k"], pretrained["pgd"].settings["k"]) == (35000, 6500)
    labels = [p.label for p in attacker_plans(demos, "emo18") if p.group == "ablation"]
    assert labels == ["w/o factorisation", "w/o magnitude loss", "w/o sparsity loss", "w/o quantisation loss"]


def test_overrides_set_nested_yaml_values():
    config = {"a": {"b": 1}}
    apply_override(config, "a.c.d=[1, 2]")
    apply_override(config, "a.b=null")
    apply_override(config, "e=0.5")
    assert config == {"a": {"b": None, "c": {"d": [1, 2]}}, "e": 0.5}
    with pytest.raises(ConfigError, match="key=value"):
        apply_override(config, "novalue")
    with pytest.raises(ConfigError, match="'e' is not a mapping"):
        apply_override(config, "e.f=1")


def test_an_attacker_can_be_removed_with_null():
    config = load_config("demo", ["attackers.sparsefool=null"])
    assert "sparsefool" not in [p.id for p in attacker_plans(config, "emo18")]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("victims=[emo18, hubert]", "model 'hubert' is used but not defined"),
        ("attackers.pgd.attack=fgsm", "unknown attack 'fgsm'"),
        ("eps=2", r"eps must be a number in \(0, 1\]"),
        ("splits=[dev]", "unknown splits"),
        ("colour=blue", "unknown keys"),
        ("controls.authors_shift=maybe", "authors_shift must be auto, true or false"),
        ("attackers.a/b={attack: pgd}", "'a/b' is not a valid id"),
        ("attackers.zero={attack: pgd}", "'zero' is not a valid id"),
    ],
)
def test_invalid_experiments_fail_in_one_line(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config("demo", [override])
    assert "\n" not in str(info.value) and "demo.yaml" in str(info.value)


def test_cache_outside_the_output_folder_is_refused(tmp_path):
    config = load_config("demo", [f"corpus.cache={tmp_path / 'elsewhere'}"])
    with pytest.raises(ConfigError, match="corpus.cache .* outside the output folder"):
        run_experiment(config, tmp_path / "out", show_progress=False, log=lambda _: None)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such experiment file"):
        load_config(tmp_path / "nope.yaml")


def test_ablations_inherit_their_attacker_and_controls_follow_alignment():
    config = load_config("demo", ["ablations.no_mag={of: staa, label: w/o magnitude, train: {no_magnitude: true}}"])
    plans = {p.id: p for p in attacker_plans(config, "emo18")}
    assert plans["no_mag"].group == "ablation" and plans["no_mag"].attack == "staa"
    assert plans["no_mag"].train == {"preset": "paper", "epochs": 4, "lr": 1e-3, "warmup_epochs": 1, "no_magnitude": True}
    assert plans["zero"].group == plans["authors_shift"].group == "control"
    assert plans["authors_shift"].generator == {"preset": "fast", "alignment": "authors"}
    auto = {p.id for p in attacker_plans(load_config("demo", ["controls.authors_shift=auto"]), "emo18")}
    assert "authors_shift" not in auto and "zero" in auto  # no generator uses the authors' alignment
    authors = load_config("demo", ["controls.authors_shift=auto", "attackers.staa.generator.alignment=authors"])
    assert "authors_shift" in {p.id for p in attacker_plans(authors, "emo18")}
    off = load_config("demo", ["controls.authors_shift=false"])
    assert "authors_shift" not in {p.id for p in attacker_plans(off, "emo18")}


def test_outputs_made_with_other_settings_are_not_reused(tmp_path):
    claim_folder(tmp_path, {"epochs": 1, "lr": 0.1})
    claim_folder(tmp_path, {"epochs": 1, "lr": 0.1})  # same settings: fine
    with pytest.raises(ConfigError, match=r"other settings \(epochs\)"):
        claim_folder(tmp_path, {"epochs": 2, "lr": 0.1})


# ---- end to end ----------------------------------------------------------------------------------------
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
    attackers = ["pgd", "sparsefool", "onepixel", "staa", "staa_budget", "universal", "zero", "authors_shift"]
    assert labels == {(a, s) for a in attackers for s in ("val", "test")}
    assert results["provenance"]["config"]["max_examples"] == 3 and results["provenance"]["seed"] == 0
    robustness, targeted = results["robustness"], results["targeted"]
    assert set(robustness) == docs["`robustness` (tables/robustness.*)"]
    assert all(set(r) == docs["`robustness.rows[]`"] for r in robustness["rows"]) and robustness["rows"]
    assert [set(b) for b in results["budgets"]] == [docs["`budgets[]` (tables/budgets.*)"]]
    assert set(targeted) == docs["`targeted` (tables/targeted.*)"]
    assert all(set(r) == docs["`targeted.rows[]`"] for r in targeted["rows"]) and targeted["rows"]
    for name in ("ser", "attacks", "attacks_correct_to_wrong", "robustness", "budgets", "targeted"):
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
    for key in ("models", "attacks", "examples", "corpus", "robustness", "budgets", "targeted"):
        for a, b in zip(first[key] if isinstance(first[key], list) else [first[key]],
                        second[key] if isinstance(second[key], list) else [second[key]]):
            a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))
            if isinstance(a, dict):
                a.pop("seconds_per_example", None), b.pop("seconds_per_example", None)
            assert a == b


def test_demo_refuses_to_mix_settings_in_one_folder(demo_run):
    out, _ = demo_run
    result = _run(out, "models.emo18.epochs=2")
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError) and "other settings (train)" in str(result.exception)
