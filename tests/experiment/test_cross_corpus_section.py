"""``cross_corpus``: every SER model of an experiment scored on another corpus's clips of the classes both name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from staa.errors import ConfigError
from staa.experiment import load_config, run_experiment


def tiny(other: Path) -> dict:
    return {
        "name": "xc",
        "max_examples": 2,
        "splits": ["test"],
        "threads": 1,
        "corpus": {"name": "synthetic", "seconds": 0.3, "options": {"n_speakers": 3, "per_emotion": 1, "seconds": 0.3}},
        "models": {"emo18": {"arch": "emo18", "epochs": 1, "batch_size": 7, "options": {"hidden": 8}},
                   "zhao19": {"arch": "zhao19", "epochs": 1, "batch_size": 7}},
        "threat_models": ["emo18"],
        "victims": ["emo18", "zhao19"],
        "attackers": {"pgd": {"attack": "pgd", "label": "PGD", "settings": {"k_percent": 10, "steps": 1}}},
        "cross_corpus": {"corpora": {str(other): None}},
        "report": {"examples": 0, "perceptual": False, "chunk_size": 2},
    }  # fmt: skip


@pytest.fixture(scope="module")
def other(write_manifest, tmp_path_factory) -> Path:
    """The micro corpus on disk with its anger clips named ``rage``: a class the models do not have."""
    return write_manifest(tmp_path_factory.mktemp("other"), "other.csv", {"anger": "rage"})


def test_each_model_is_scored_on_the_shared_classes_of_the_other_corpus(other, tmp_path):
    path = tmp_path / "xc.yaml"
    path.write_text(yaml.safe_dump(tiny(other)))
    run_experiment(load_config(path), tmp_path / "run", show_progress=False, log=lambda _: None)
    section = json.loads((tmp_path / "run" / "results.json").read_text())["cross_corpus"]
    assert section["split"] == "test" and [r["model"] for r in section["rows"]] == ["emo18", "zhao19"]
    for row in section["rows"]:
        # the micro corpus's test speaker: one clip per class; the rage clip is left out, six are scored
        assert (
            row["corpus"] == "manifest-other"
            and row["n"] == 6
            and row["in_pretraining"] is False
            and row["left_out"] == {"rage": 1}
        )
        assert (
            len(row["shared_classes"]) == 6 and "anger" not in row["shared_classes"]
        )  # its clips are named rage there
        assert row["uar_ci"]["low"] <= row["uar"] <= row["uar_ci"]["high"]
    table = (tmp_path / "run" / "tables" / "cross_corpus.md").read_text()
    assert "| Zhao19 | manifest-other | 6 | 6 | rage 1 |" in table.replace("zhao19", "Zhao19")
    assert (tmp_path / "run" / "cross_corpus" / "cache").is_dir()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"corpora": {"ravdess": None}}, "ravdess needs its folder"),
        ({"corpora": {}}, "a mapping of corpus name to folder"),
        ({"corpora": {"synthetic": None}}, "the experiment's own corpus"),
        ({"corpora": {"x.csv": None}, "split": "dev"}, "split must be one of"),
        ({"corpora": {"x.csv": None}, "models": ["wavlm"]}, "'wavlm' is not a model this experiment trains"),
        ({"corpus": {"x.csv": None}}, "cross_corpus must be a mapping of corpora, models, split"),
    ],
)
def test_bad_cross_corpus_settings_are_refused_when_the_file_is_read(other, tmp_path, section, message):
    config = tiny(other)
    config["cross_corpus"] = section
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=message):
        load_config(path)
