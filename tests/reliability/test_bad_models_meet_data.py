"""Bad input, category 1: a model meets data it does not know.

A checkpoint records its class names (in order) and its sample rate; every command that puts a model
in front of data refuses data whose classes, order or rate differ, in one line naming the checkpoint and
what differs. A CSV manifest adopts the model's classes (documented repair: its labels may be any subset
of them), so only a label that is not one of the model's classes is refused, by row.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

# The ``emodb`` checkpoint (tests/reliability/conftest.py) has EmoDB's classes; the data has the synthetic ones.
FOREIGN = "classes differ: only the model has boredom, neutral; only the data has guilt, surprise"


def _relabelled(manifest: Path, folder: Path, mapping: dict[str, str]) -> Path:
    """A copy of ``manifest`` (same audio) whose labels are renamed by ``mapping``."""
    with manifest.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["path"] = str(manifest.parent / row["path"])
        row["label"] = mapping.get(row["label"], row["label"])
    out = folder / "relabelled.csv"
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


@pytest.mark.parametrize(
    "command",
    [
        ["ser", "evaluate", "{ckpt}"],
        ["attack", "run", "pgd", "--model", "{ckpt}", "--out", "{out}", "--steps", "1", "--limit", "2"],
        ["attack", "universal", "--model", "{ckpt}", "--out", "{out}", "--epochs", "1"],
        ["attack", "targets", "pgd", "--model", "{ckpt}", "--out", "{out}", "--steps", "1", "--limit", "2"],
        ["generator", "train", "--threat", "{ckpt}", "--out", "{out}", "--epochs", "1"],
        ["generator", "apply", "{gen}", "--model", "{ckpt}", "--out", "{out}"],
        [
            "defense",
            "evaluate",
            "--model",
            "{ckpt}",
            "--defense",
            "median:kernel=3",
            "--attack",
            "pgd:steps=1",
            "--out",
            "{out}",
            "--limit",
            "2",
        ],
        ["defense", "adv-train", "{ckpt}", "--out", "{out}", "--epochs", "1"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_model_of_other_classes_is_refused_by_every_command(command, staa, checkpoints, micro, tmp_path):
    """The EmoDB-trained checkpoint on the synthetic clips: a UAR used to be reported without complaint.

    The manifest adopts the model's classes, so its labels guilt and surprise are unknown labels, by row.
    """
    ckpt, out = checkpoints / "emodb", tmp_path / "out"
    args = [a.format(ckpt=ckpt, out=out, gen=checkpoints / "gen") for a in command]
    line = staa.refuses([*args, *micro], "unknown label", "classes: anger, boredom", keep=(out, ckpt))
    assert "row " in line and ".csv" in line


def test_named_corpus_with_other_classes_names_exactly_what_differs(staa, checkpoints, tmp_path):
    """A corpus with fixed classes (here the built-in synthetic one) against the EmoDB-trained model."""
    small = ["--corpus", "synthetic", "--cache", tmp_path / "cache", "--seconds", "0.25", "--quiet"]
    line = staa.refuses(["ser", "evaluate", checkpoints / "emodb", *small], FOREIGN, keep=(checkpoints / "emodb",))
    assert str(checkpoints / "emodb") in line


def test_class_order_that_differs_is_refused(staa, checkpoints, micro, tmp_path):
    """Two victims on one manifest: the first fixes the order, the second lists the same names reversed."""
    out = tmp_path / "robust"
    args = ["defense", "evaluate", "--model", checkpoints / "emo18", "--model", checkpoints / "reordered",
            "--defense", "median:kernel=3", "--attack", "pgd:steps=1", "--out", out, "--limit", "2", *micro]  # fmt: skip
    staa.refuses(
        args, "class order differs: the model has surprise, sadness", str(checkpoints / "reordered"), keep=(out,)
    )


def test_sample_rate_that_differs_is_refused(staa, checkpoints, micro, tmp_path):
    line = staa.refuses(["ser", "evaluate", checkpoints / "rate48k", *micro],
                        "the model expects 48000 Hz audio, the data is 16000 Hz", keep=(checkpoints / "rate48k",))  # fmt: skip
    assert str(checkpoints / "rate48k") in line


def test_sample_rate_is_checked_for_a_folder_of_files_too(staa, checkpoints, tmp_path):
    import soundfile as sf

    (tmp_path / "in").mkdir()
    sf.write(str(tmp_path / "in" / "a.wav"), np.sin(np.arange(8000) / 5).astype(np.float32) * 0.3, 16_000)
    out = tmp_path / "out"
    staa.refuses(["generator", "apply", checkpoints / "gen", "--model", checkpoints / "rate48k", "--input-dir",
                  tmp_path / "in", "--out", out], "expects 48000 Hz", keep=(out,))  # fmt: skip


def test_manifest_label_outside_the_models_classes_is_refused_by_row(
    staa, checkpoints, micro_manifest, shared_cache, tmp_path
):
    manifest = _relabelled(micro_manifest, tmp_path, {"guilt": "joy"})
    args = [
        "ser",
        "evaluate",
        checkpoints / "emo18",
        "--corpus",
        manifest,
        "--cache",
        shared_cache,
        "--seconds",
        "0.25",
    ]
    line = staa.refuses(args, "unknown label 'joy'", str(manifest))
    assert "row " in line


def test_manifest_with_a_subset_of_the_classes_takes_the_models_order(
    staa, checkpoints, micro_manifest, shared_cache, tmp_path
):
    """Documented repair: a manifest's labels are mapped to the model's indices, not re-numbered from 0.

    Before, a manifest holding only 'sadness' and 'anger' became classes [anger, sadness] = [0, 1], and
    every 'sadness' clip was scored as the model's class 1 (disgust).
    """
    with micro_manifest.open() as f:
        rows = [r for r in csv.DictReader(f) if r["label"] in ("sadness", "anger")]
    for r in rows:
        r["path"] = str(micro_manifest.parent / r["path"])
    subset = tmp_path / "subset.csv"
    with subset.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ckpt = tmp_path / "ckpt"
    shutil.copytree(checkpoints / "emo18", ckpt)
    staa.succeeds("ser", "evaluate", ckpt, "--corpus", subset, "--cache", shared_cache, "--seconds", "0.25", "--quiet")
    confusion = np.array(json.loads((ckpt / "eval.json").read_text())["splits"]["test"]["confusion"])
    assert confusion.shape == (7, 7)
    present = {i for i, row in enumerate(confusion) if row.sum()}
    assert present == {0, 5}  # anger and sadness, at the model's own indices


@pytest.mark.slow  # trains a tiny experiment once, then reruns it on another corpus
def test_experiment_reuse_on_other_data_is_refused(staa, tiny_experiment, tmp_path):
    experiment, out = tiny_experiment, tmp_path / "run"
    staa.succeeds("run", experiment, "--out", out, "--quiet")
    line = staa.refuses(["run", experiment, "--out", out, "--quiet", "--set", "corpus.options.seed=2"],
                        "other settings (corpus", keep=(out / "models",))  # fmt: skip
    assert str(out / "models" / "emo18") in line


def test_shared_classes_scores_a_corpus_of_other_classes_on_the_ones_both_name(staa, checkpoints, tmp_path):
    """The repair of the refusal above: ``--shared-classes`` leaves out the data's guilt and surprise clips."""
    from staa.data.cache import PreparedCorpus

    ckpt, cache = tmp_path / "ckpt", tmp_path / "cache"
    shutil.copytree(checkpoints / "emodb", ckpt)
    staa.succeeds("ser", "evaluate", ckpt, "--corpus", "synthetic", "--cache", cache, "--seconds", "0.25",
                  "--quiet", "--shared-classes", "--split", "test")  # fmt: skip
    (written,) = ckpt.glob("eval-synthetic*.json")  # named after the prepared corpus
    result = json.loads(written.read_text())["splits"]["test"]
    assert result["shared_classes"] == ["anger", "disgust", "fear", "happiness", "sadness"]
    pc = PreparedCorpus.load(next(p.parent for p in cache.rglob("manifest.json")))
    names = [pc.classes[i] for i in pc.split("test").labels]
    assert result["left_out"] == {c: names.count(c) for c in ("guilt", "surprise") if c in names}
    assert result["n"] == len(names) - sum(result["left_out"].values())
    assert not (ckpt / "eval.json").exists()
