"""``models.<id>.pretrain``: the experiment pre-trains a model on its corpus pooled with others, then fine-tunes it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from staa.errors import ConfigError
from staa.experiment import load_config, run_experiment
from staa.experiment.plans import check_buildable
from staa.io.weights import fingerprint
from staa.models import load_model


def tiny(own: Path, other: Path) -> dict:
    return {
        "name": "pooled",
        "max_examples": 2,
        "splits": ["test"],
        "threads": 1,
        "corpus": {"name": str(own), "seconds": 0.25},
        "models": {"emo18": {"arch": "emo18", "epochs": 1, "batch_size": 7, "options": {"hidden": 8},
                             "pretrain": {"corpora": {str(other): None}, "epochs": 1, "seconds": 0.25}}},
        "cross_corpus": {"corpora": {str(other): None}},
        "threat_models": ["emo18"],
        "victims": ["emo18"],
        "attackers": {"pgd": {"attack": "pgd", "label": "PGD", "settings": {"k_percent": 10, "steps": 1}}},
        "report": {"examples": 0, "perceptual": False, "chunk_size": 2},
    }  # fmt: skip


@pytest.fixture(scope="module")
def corpora(write_manifest, tmp_path_factory) -> tuple[Path, Path]:
    own = write_manifest(tmp_path_factory.mktemp("own"), "own.csv")
    other = write_manifest(tmp_path_factory.mktemp("other"), "other.csv", {"anger": "rage"})
    return own, other


def test_the_model_is_fine_tuned_from_its_pooled_pre_training(corpora, tmp_path):
    own, other = corpora
    path = tmp_path / "pooled.yaml"
    path.write_text(yaml.safe_dump(tiny(own, other)))
    run_experiment(load_config(path), tmp_path / "run", show_progress=False, log=lambda _: None)
    pooled = tmp_path / "run" / "pretrain" / "emo18"
    pre = load_model(pooled / "pretrain" / "best")
    assert pre.config.class_names[-1] == "rage"  # the other corpus's class joined the pooled ones
    rows = (pooled / "pooled.csv").read_text().splitlines()[1:]
    own_rows = [r for r in rows if r.startswith(str(own.parent))]
    assert own_rows and all(r.endswith(",train") for r in own_rows)  # only the experiment corpus's training speakers
    spec = json.loads((tmp_path / "run" / "models" / "emo18" / "spec.json").read_text())
    assert spec["train"]["init_from"] == str(pooled / "pretrain" / "best")
    assert spec["initial_weights"] != fingerprint(pre)  # its own classes' rows, copied by name, not the pooled head
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["attacks"] and results["models"]["emo18"]["pretrained_on"] == [str(other)]
    assert results["models"]["emo18"]["splits"]["test"]["n"] == 7
    assert f"emo18 (pre-trained with {other})" in (tmp_path / "run" / "tables" / "ser.md").read_text()
    assert results["cross_corpus"]["rows"][0]["in_pretraining"] is True  # not a corpus new to this model
    assert "manifest-other (in its pre-training)" in (tmp_path / "run" / "tables" / "cross_corpus.md").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c, o: c["models"]["emo18"]["pretrain"].update(corpora={"ravdess": None}), "ravdess needs its folder"),
        (lambda c, o: c["models"]["emo18"]["pretrain"].update(epoch=3), "a mapping of corpora, epochs, seconds"),
        (lambda c, o: c["corpus"].update(name="synthetic"), "not with 'synthetic'"),
        (lambda c, o: c["models"]["emo18"]["pretrain"].update(corpora={"synthetic": None}), "no audio files to pool"),
        (lambda c, o: c["models"]["emo18"].update(arch="wav2vec2", options={}), "for models trained from scratch"),
        (lambda c, o: c["models"]["emo18"]["pretrain"].update(epochs=0), "epochs"),
    ],
)
def test_bad_pretrain_settings_are_refused_before_any_work(corpora, tmp_path, change, message):
    config = copy.deepcopy(tiny(*corpora))
    change(config, corpora)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=message):
        check_buildable(load_config(path))
