"""An experiment with ``attack_seeds``: the randomised attackers are crafted again under each extra seed
(their own folders), deterministic ones and controls once; mean ± sd per row, and every table carries
its bootstrap intervals. A tiny synthetic run of seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from staa.experiment import load_config, run_experiment

TINY = {
    "name": "seeds",
    "seed": 0,
    "max_examples": 4,
    "splits": ["test"],
    "attack_seeds": [0, 5],
    "threads": 1,
    "corpus": {"name": "synthetic", "seconds": 0.3, "options": {"n_speakers": 3, "per_emotion": 1, "seconds": 0.3}},
    "models": {"emo18": {"arch": "emo18", "epochs": 1, "batch_size": 8, "options": {"hidden": 8}}},
    "threat_models": ["emo18"],
    "victims": ["emo18"],
    "attackers": {
        "pgd": {"attack": "pgd", "label": "PGD", "settings": {"k_percent": 10, "steps": 2, "random_start": True}},
        "sparsefool": {"attack": "sparsefool", "label": "SparseFool", "settings": {"steps": 1, "deepfool_steps": 2}},
    },
    "report": {"examples": 0, "perceptual": False, "chunk_size": 2},
}


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("seeds")
    path = out / "seeds.yaml"
    path.write_text(yaml.safe_dump(TINY))
    run_experiment(load_config(path), out / "run", show_progress=False, log=lambda _: None)
    return out / "run", json.loads((out / "run" / "results.json").read_text())


def test_randomised_attackers_are_repeated_under_the_extra_seed(seeded_run: tuple[Path, dict]) -> None:
    out, results = seeded_run
    section = results["attack_seeds"]
    assert section["seeds"] == [0, 5]  # the experiment's own seed is not repeated
    by_attacker = {r["attacker"]: r for r in section["rows"]}
    assert {a: r["n_seeds"] for a, r in by_attacker.items()} == {"pgd": 2, "sparsefool": 1, "zero": 1}
    assert (out / "seeds" / "5" / "adversarial" / "emo18" / "pgd" / "test" / "records.json").exists()
    assert not (out / "seeds" / "5" / "adversarial" / "emo18" / "sparsefool").exists()
    repeat = json.loads((out / "seeds" / "5" / "adversarial" / "emo18" / "pgd" / "test" / "records.json").read_text())
    assert repeat["seed"] == 5
    asr = by_attacker["pgd"]["asr"]["emo18"]
    main = next(r for r in results["attacks"] if r["attacker"] == "pgd")["asr"]["emo18"]
    assert asr["n"] == 2 and asr["low"] <= main <= asr["high"] and asr["low"] <= asr["mean"] <= asr["high"]
    assert by_attacker["sparsefool"]["asr"]["emo18"]["sd"] == 0.0
    assert "± " in (out / "tables" / "attack_seeds.md").read_text() or asr["sd"] == 0.0


def test_every_rate_carries_its_interval_in_results_tables_and_report(seeded_run: tuple[Path, dict]) -> None:
    out, results = seeded_run
    test = results["models"]["emo18"]["splits"]["test"]
    assert test["uar_ci"]["value"] == test["uar"] and test["uar_ci"]["n"] == test["n"]
    for row in results["attacks"]:
        ci = row["asr_ci"]["emo18"]
        assert ci["n"] == row["n"] == 4 and ci["low"] <= row["asr"]["emo18"] <= ci["high"]
    for table in ("ser", "attacks", "attacks_correct_to_wrong"):
        assert "95 % bootstrap interval" in (out / "tables" / f"{table}.md").read_text()
    report = (out / "report.html").read_text()
    assert "95 % bootstrap interval" in report and "attack_seeds" in report
