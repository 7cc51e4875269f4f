"""Pre-training on pooled corpora: which speakers each corpus gives, the pooled classes, and a fine-tuning from it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from staa.cli import app
from staa.errors import ConfigError, StaaError
from staa.models import build_model, load_model
from staa.models.warm_start import warm_start
from staa.training.pretrain import pooled_manifest, pretrain
from staa.training.ser import TrainConfig


@pytest.fixture(scope="module")
def two_corpora(write_manifest, tmp_path_factory) -> tuple[Path, Path]:
    """The micro corpus twice as manifests: as it is, and with its anger clips named ``rage`` (a new class)."""
    a = write_manifest(tmp_path_factory.mktemp("a"), "a.csv")
    b = write_manifest(tmp_path_factory.mktemp("b"), "b.csv", {"anger": "rage"})
    return a, b


def write_manifest_copy(csv_path: Path, folder: Path) -> Path:
    """The same CSV in another folder (same file name, so the same corpus name), paths made absolute."""
    folder.mkdir()
    rows = read_rows(csv_path)
    for r in rows:
        r["path"] = str(csv_path.parent / r["path"])
    with open(folder / csv_path.name, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / csv_path.name


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_every_split_of_a_pooled_corpus_but_only_the_training_speakers_of_a_train_only_one(two_corpora, tmp_path):
    a, b = two_corpora
    classes = pooled_manifest({str(a): None, str(b): None}, tmp_path / "pool.csv", train_only=[str(b)])
    rows = read_rows(tmp_path / "pool.csv")
    from_a = [r for r in rows if r["path"].startswith(str(a.parent))]
    from_b = [r for r in rows if r["path"].startswith(str(b.parent))]
    assert len(from_a) + len(from_b) == len(rows)
    assert {r["split"] for r in from_a} == {"train", "val", "test"} and len(from_a) == 21
    assert {r["split"] for r in from_b} == {"train"} and len(from_b) == 7
    assert all(Path(r["path"]).is_absolute() and Path(r["path"]).is_file() for r in rows)
    assert len({r["speaker"] for r in rows}) == 4  # A's three speakers, B's training one: prefixed apart
    assert "rage" in {r["label"] for r in from_b} and "anger" not in {r["label"] for r in from_b}
    # the first corpus's classes in its order (a manifest's: sorted), then the new one
    assert classes == [*sorted({r["label"] for r in from_a}), "rage"]


def test_pooling_refuses_one_corpus_all_train_only_unknown_names_and_the_synthetic_corpus(two_corpora, tmp_path):
    a, b = two_corpora
    out = tmp_path / "pool.csv"
    with pytest.raises(ConfigError, match="at least two corpora"):
        pooled_manifest({str(a): None}, out)
    with pytest.raises(ConfigError, match="not among the pooled corpora"):
        pooled_manifest({str(a): None, str(b): None}, out, train_only=["emodb"])
    with pytest.raises(ConfigError, match="every pooled corpus is train_only"):
        pooled_manifest({str(a): None, str(b): None}, out, train_only=[str(a), str(b)])
    with pytest.raises(ConfigError, match="synthetic corpus generates"):
        pooled_manifest({str(a): None, "synthetic": None}, out)
    twin = write_manifest_copy(a, tmp_path / "twin")
    with pytest.raises(ConfigError, match="both named 'manifest-a'"):
        pooled_manifest({str(a): None, str(twin): None}, out)
    assert not out.exists()


def test_pretrain_then_fine_tune_copies_the_rows_of_shared_classes(two_corpora, micro_corpus, tmp_path):
    a, b = two_corpora
    cfg = TrainConfig.pooled(epochs=1, batch_size=7, augment={"crop_seconds": 0.2})
    result = pretrain({str(a): None, str(b): None}, tmp_path, seconds=0.25, config=cfg, show_progress=False)
    best = load_model(tmp_path / "pretrain" / "best")
    assert best.config.class_names[-1] == "rage" and best.num_classes == 8
    saved = json.loads((tmp_path / "pretrain" / "eval.json").read_text())
    assert saved["test"]["n"] == result["test"]["n"] == 14  # both corpora's test speakers: 7 clips each
    assert 0.0 <= saved["test"]["uar"] <= 1.0
    # run again on the finished folder: the checkpoint is reused and its test score read back, not recomputed
    saved["test"]["uar"] = -1.0
    (tmp_path / "pretrain" / "eval.json").write_text(json.dumps(saved))
    again = pretrain({str(a): None, str(b): None}, tmp_path, seconds=0.25, config=cfg, show_progress=False)
    assert again["test"]["uar"] == -1.0
    # a model of the micro corpus's classes starts from the pooled weights: every row but none fresh
    net = build_model("emo18", num_classes=len(micro_corpus.classes), class_names=micro_corpus.classes)
    assert warm_start(net, tmp_path / "pretrain" / "best") == []
    out_w, pooled_w = net.state_dict(), best.state_dict()
    row = best.config.class_names.index("sadness")
    layer = net.output_layer + ".weight"
    assert np.array_equal(out_w[layer][micro_corpus.classes.index("sadness")].numpy(), pooled_w[layer][row].numpy())
    # the same folder with other settings is refused; with overwrite it trains them
    other = TrainConfig.pooled(epochs=2, batch_size=7, augment={"crop_seconds": 0.2})
    with pytest.raises(StaaError):
        pretrain({str(a): None, str(b): None}, tmp_path, seconds=0.25, config=other, show_progress=False)
    again = pretrain({str(a): None, str(b): None}, tmp_path, seconds=0.25, config=other, show_progress=False,
                     overwrite=True)  # fmt: skip
    assert len(again["history"]) == 2


def test_the_pooled_recipe_and_its_overrides():
    cfg = TrainConfig.pooled(epochs=3, seed=5)
    assert (cfg.epochs, cfg.seed, cfg.batch_size, cfg.schedule, cfg.warmup_epochs) == (3, 5, 16, "cosine", 1)
    assert cfg.augment is not None and cfg.augment.crop_seconds == 1.0 and cfg.augment.noise_prob == 0
    assert TrainConfig.pooled(epochs=None).epochs == 16
    cropped = TrainConfig.pooled(epochs=1, augment={"crop_seconds": 0.5}).augment
    assert cropped is not None and (cropped.crop_seconds, cropped.speed, cropped.noise_prob) == (0.5, 0.0, 0.0)
    assert TrainConfig.pooled(epochs=1).warmup_epochs == 0


def test_cli_pretrain_refuses_a_corpus_without_its_folder(tmp_path):
    result = CliRunner().invoke(app, ["ser", "pretrain", "--corpus", "emodb", "--corpus", "ravdess=/x",
                                      "--out", str(tmp_path / "p")])  # fmt: skip
    assert isinstance(result.exception, ConfigError) and "NAME=FOLDER" in str(result.exception)
    assert not (tmp_path / "p").exists()
