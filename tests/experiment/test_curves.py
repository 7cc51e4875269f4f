"""Success-versus-sparsity curves in an experiment file: ``attackers.<id>.sweep`` validated up front, every
budget crafted into its own resumable folder, the ``curves`` section, its table, figure and report section."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml

from staa.errors import ConfigError
from staa.experiment import load_config, run_experiment
from staa.experiment.sections.curves import swept_budgets

TINY = {
    "name": "tiny-curves",
    "seed": 0,
    "eps": 0.1,
    "splits": ["test"],
    "max_examples": 6,
    "corpus": {
        "name": "synthetic",
        "seconds": 0.3,
        "options": {"n_speakers": 5, "per_emotion": 2, "seconds": 0.3, "seed": 0},
    },
    "models": {
        "emo18": {"arch": "emo18", "label": "Emo18", "epochs": 3, "lr": 1.0e-3},
        "zhao19": {"arch": "zhao19", "label": "Zhao19", "epochs": 1, "lr": 1.0e-3},
    },
    "threat_models": ["emo18"],
    "victims": ["emo18", "zhao19"],
    "attackers": {
        "pgd": {
            "attack": "pgd",
            "label": "PGD",
            "settings": {"k_percent": 5, "steps": 3},
            "sweep": {"k_percent": [20, 1, 5]},
        },
        "sigma": {"attack": "sigma_zero", "label": "σ-zero", "settings": {"steps": 30}},
        "onepixel": {"attack": "onepixel", "label": "One-Pixel", "settings": {"popsize": 4, "iterations": 1}},
        "universal": {
            "attack": "universal",
            "label": "Universal",
            "settings": {"k_percent": 5},
            "fit": {"epochs": 1},
            "sweep": {"k_percent": [2, 5]},
        },
        "staa": {
            "attack": "staa",
            "label": "STAA-Net",
            "generator": {"preset": "fast"},
            "train": {"preset": "paper", "epochs": 1},
        },
    },
    "controls": {"authors_shift": False},
    "report": {"examples": 0, "perceptual": False, "chunk_size": 4},
}


def _config(tmp_path: Path, *overrides: str) -> dict:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY, sort_keys=False, allow_unicode=True))
    return load_config(path, overrides)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("attackers.pgd.sweep=[1, 2]", r"sweep must be a mapping \{k_percent: \[1, 2, 5, 10, 20\]\}"),
        ("attackers.pgd.sweep={k: [1, 2]}", "sweep must be a mapping"),
        ("attackers.pgd.sweep={k_percent: []}", "non-empty list of distinct numbers in"),
        ("attackers.pgd.sweep={k_percent: [1, 1]}", "non-empty list of distinct numbers"),
        ("attackers.pgd.sweep={k_percent: [0, 5]}", r"numbers in \(0, 100\], got \[0, 5\]"),
        ("attackers.pgd.sweep={k_percent: [5, 150]}", r"in \(0, 100\]"),
        ("attackers.pgd.sweep={k_percent: [true]}", "distinct numbers"),
        ("attackers.pgd.sweep={k_percent: 5}", "non-empty list"),
        (
            "attackers.sigma.sweep={k_percent: [1]}",
            "sigma_zero is a minimum-norm attack, its whole curve comes from one run",
        ),
        ("attackers.onepixel.sweep={k_percent: [1]}", "attack 'onepixel' has no sample budget to sweep"),
        ("attackers.staa.sweep={k_percent: [1]}", "STAA-Net generators appear as points"),
        ("attackers.pgd.target=anger", "a targeted attacker cannot be swept"),
    ],
)
def test_a_bad_sweep_is_one_line_naming_the_file_and_the_attacker(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message) as info:
        _config(tmp_path, override)
    text = str(info.value)
    assert "\n" not in text and "tiny.yaml" in text and "attacker '" in text


def test_swept_budgets_are_the_union_in_order(tmp_path):
    assert swept_budgets(_config(tmp_path)) == [1.0, 2.0, 5.0, 20.0]


@pytest.mark.parametrize(
    ("name", "sweeps"),
    [
        ("demo", {"pgd": [1, 2, 5, 10, 20], "pgd0": [1, 2, 5, 10, 20]}),
        ("emodb", {"pgd0": [1, 5, 10, 20]}),
    ],  # 10 % is the main row's set, reused; fewer budgets to fit 30 minutes
)
def test_shipped_experiments_include_the_strongest_attacks_and_sweep(name, sweeps):
    config = load_config(name)
    attacks = {spec["attack"] for spec in config["attackers"].values() if spec}
    assert {"pgd0", "sparse_rs", "sigma_zero"} <= attacks
    swept = {
        spec["attack"]: spec["sweep"]["k_percent"]
        for spec in config["attackers"].values()
        if spec and spec.get("sweep")
    }
    assert swept == sweeps


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny experiment run once; the tests that read it are marked slow (SER models and a generator)."""
    tmp = tmp_path_factory.mktemp("curves")
    out = tmp / "out"
    run_experiment(_config(tmp), out, show_progress=False, log=lambda _: None)
    return tmp, out, json.loads((out / "results.json").read_text())


def _points(results: dict, **match) -> list[dict]:
    return [p for p in results["curves"]["points"] if all(p[k] == v for k, v in match.items())]


@pytest.mark.slow
def test_every_budget_is_crafted_once_in_its_own_folder(tiny):
    _, out, results = tiny
    section = results["curves"]
    assert section["split"] == "test" and section["budgets"] == [1.0, 2.0, 5.0, 20.0]
    pgd = _points(results, attacker="pgd", victim="zhao19")
    assert [(p["budget"], p["adversarial_set"]) for p in pgd] == [
        (1.0, "adversarial/emo18/pgd/sweep/k1/test"),
        (5.0, "adversarial/emo18/pgd/test"),  # the attack table's own set: same settings, not crafted twice
        (20.0, "adversarial/emo18/pgd/sweep/k20/test"),
    ]
    assert not (out / "adversarial" / "emo18" / "pgd" / "sweep" / "k5").exists()
    for p in _points(results, kind="sweep"):
        records = json.loads((out / p["adversarial_set"] / "records.json").read_text())
        replay = json.loads((out / p["adversarial_set"] / "victims" / f"{p['victim']}.json").read_text())
        assert p["asr"] == replay["asr"] and p["robust_accuracy"] == replay["adv_accuracy"] and p["n_clips"] == 6
        assert all(e["sparsity_pct"] <= p["budget"] + 1e-9 for e in records["examples"])  # k never exceeded
    # a universal perturbation is fitted per budget, beside the attack table's
    assert (out / "generators" / "emo18" / "universal" / "sweep" / "k2" / "perturbation.safetensors").exists()
    assert [p["budget"] for p in _points(results, attacker="universal", victim="emo18")] == [2.0, 5.0]


@pytest.mark.slow
def test_points_and_minimum_norm_curves_come_from_the_attack_tables_sets(tiny):
    _, _, results = tiny
    rows = {r["attacker"]: r for r in results["attacks"]}
    for attacker in ("staa", "onepixel"):
        for victim in ("emo18", "zhao19"):
            (point,) = _points(results, attacker=attacker, victim=victim)
            assert point["kind"] == "point" and point["budget"] is None
            assert point["asr"] == rows[attacker]["asr"][victim]
            if rows[attacker]["sparsity_pct"] is not None:
                assert point["sparsity_pct"] == pytest.approx(rows[attacker]["sparsity_pct"])
    curve = _points(results, attacker="sigma", victim="emo18")
    assert [p["budget"] for p in curve] == [1.0, 2.0, 5.0, 20.0, 100.0] and {p["kind"] for p in curve} == {
        "minimum_norm"
    }
    assert [p["asr"] for p in curve] == sorted(p["asr"] for p in curve)  # more samples never fool fewer clips
    whole = curve[-1]  # at 100 % every clip it fooled counts: the attack table's operating point
    assert whole["asr"] == pytest.approx(rows["sigma"]["asr"]["emo18"])
    assert whole["robust_accuracy"] == pytest.approx(rows["sigma"]["adv_accuracy"]["emo18"])
    assert not _points(results, attacker="zero")  # the controls are not drawn


@pytest.mark.slow
def test_the_curves_table_figure_and_report_section(tiny):
    _, out, results = tiny
    assert results["curves"]["figures"] == {"emo18": "figures/curves-emo18.png"}
    assert (out / "figures" / "curves-emo18.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((out / "tables" / "curves.csv").open()))
    assert len(rows) == len(results["curves"]["points"])
    assert all(
        p["asr_ci"]["value"] == p["asr"] and p["asr_ci"]["n"] == p["n_clips"] for p in results["curves"]["points"]
    )
    assert all(" ± " in r["ASR (%)"] and " ± " in r["Robust accuracy (%)"] for r in rows)
    assert {r["Attacker"] for r in rows} == {"PGD", "σ-zero", "One-Pixel", "Universal", "STAA-Net"}
    assert (out / "tables" / "curves.md").exists()
    html = (out / "report.html").read_text()
    assert 'src="figures/curves-emo18.png"' in html and 'href="tables/curves.csv"' in html


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_redoing_finished_budgets(tiny):
    tmp, out, results = tiny
    copy = tmp / "resumed"
    shutil.copytree(out, copy)
    finished = copy / "adversarial" / "emo18" / "pgd" / "sweep" / "k1" / "test" / "x_adv.npy"
    before = finished.stat().st_mtime_ns
    # killed before k = 20 % was finished: its folder is claimed, its set and replays never written
    unfinished = copy / "adversarial" / "emo18" / "pgd" / "sweep" / "k20" / "test"
    shutil.rmtree(unfinished / "victims")
    (unfinished / "records.json").unlink()
    (unfinished / "x_adv.npy").unlink()
    (copy / "results.json").unlink()
    messages: list[str] = []
    run_experiment(_config(tmp), copy, show_progress=False, log=messages.append)
    again = json.loads((copy / "results.json").read_text())
    assert finished.stat().st_mtime_ns == before
    assert (unfinished / "records.json").exists()
    assert again["curves"]["points"] == results["curves"]["points"]  # seeded chunks: the same audio again
    assert not any(m.startswith("SER model") and "training" in m for m in messages)
