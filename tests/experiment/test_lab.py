"""The robustness lab inside an experiment file: adversarially trained models, defenses, budgets,
targeted success per class and the universal perturbation, end to end on a tiny synthetic experiment."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.torch import load_file

from staa.errors import ConfigError
from staa.evaluation.adversarial_set import AdversarialSet
from staa.evaluation.transfer import predict
from staa.experiment import load_config, run_experiment
from staa.io.weights import fingerprint
from staa.models import load_model

LAB = {
    "name": "lab",
    "seed": 0,
    "eps": 1.0,  # lets a one-sample attack (k = 1) flip predictions
    "splits": ["test"],
    "max_examples": 6,
    "corpus": {
        "name": "synthetic",
        "seconds": 0.3,
        "options": {"n_speakers": 5, "per_emotion": 2, "seconds": 0.3, "seed": 0},
    },
    "models": {
        "emo18": {"arch": "emo18", "label": "Emo18", "epochs": 6, "lr": 1.0e-3},
        "emo18_at": {
            "arch": "emo18",
            "label": "Emo18 AT",
            "epochs": 1,
            "lr": 5.0e-4,
            "adversarial": {"from": "emo18", "settings": {"k": 1, "steps": 2}, "adv_fraction": 0.5},
        },
    },
    "threat_models": ["emo18"],
    "victims": ["emo18"],
    "attackers": {
        "pgd1": {"attack": "pgd", "label": "PGD (1 sample)", "settings": {"k": 1, "steps": 5}},
        "staa": {
            "attack": "staa",
            "label": "STAA-Net",
            "generator": {"preset": "fast", "mask": "threshold", "noise_channels": 0},
            "train": {"preset": "paper", "epochs": 2, "budget": {"sparsity_pct": 5.0}},
        },
        "universal": {"attack": "universal", "label": "Universal", "settings": {"k_percent": 5}, "fit": {"epochs": 1}},
    },
    "controls": {"authors_shift": False},
    "defenses": {
        "pipelines": {"median5": "median:kernel=5", "noise": "noise:sigma=0.005"},
        "victims": ["emo18", "emo18_at"],
        "attackers": ["pgd1", "staa"],
    },
    "targeted": {"attackers": ["pgd1"], "classes": ["anger", "sadness"]},
    "report": {"examples": 0, "perceptual": False, "chunk_size": 4},
}


def _config(tmp_path: Path, *overrides: str) -> dict:
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(LAB, sort_keys=False))
    return load_config(path, overrides)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The lab experiment run once (SER models, adversarial training, a generator, every section): the
    tests that read it are marked slow."""
    tmp = tmp_path_factory.mktemp("lab")
    out = tmp / "out"
    run_experiment(_config(tmp), out, show_progress=False, log=lambda _: None)
    return out, json.loads((out / "results.json").read_text())


def _rows(results, **match):
    return [r for r in results["robustness"]["rows"] if all(r[k] == v for k, v in match.items())]


# ---- adversarially trained models --------------------------------------------------------------------
@pytest.mark.slow
def test_adversarially_trained_model_is_fine_tuned_from_its_source_and_is_an_ordinary_model(lab):
    out, results = lab
    spec = json.loads((out / "models" / "emo18_at" / "spec.json").read_text())
    assert spec["initial_weights"] == fingerprint(load_model(out / "models" / "emo18" / "best"))  # fine-tuned from it
    assert spec["train"]["attack"] == "pgd" and spec["train"]["eps"] == 1.0
    assert spec["train"]["attack_options"] == {"steps": 2, "loss": "ce", "early_stop": False, "k": 1}
    history = json.loads((out / "models" / "emo18_at" / "train.json").read_text())["history"]
    assert len(history) == 1 and history[0]["train_attack_success"] is not None  # adversarial batches were crafted
    assert results["models"]["emo18_at"]["adversarial"]["from"] == "emo18"
    assert results["models"]["emo18"]["adversarial"] is None
    assert (out / "tables" / "ser.md").read_text().count("Emo18 AT") == 1


# ---- defenses ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_none_rows_repeat_the_transfer_numbers(lab):
    _, results = lab
    for row in results["attacks"]:
        if row["attacker"] not in ("pgd1", "staa"):
            continue
        none = _rows(results, victim="emo18", defence="none", attack=row["attacker"], mode="non-adaptive")
        assert len(none) == 1
        assert none[0]["asr"] == row["asr"]["emo18"]
        assert none[0]["robust_accuracy"] == row["adv_accuracy"]["emo18"]
        assert none[0]["clean_accuracy"] == row["clean_accuracy"]["emo18"]


@pytest.mark.slow
def test_clean_cost_is_the_clean_accuracy_lost_to_the_defense(lab):
    out, results = lab
    section = results["robustness"]
    clean = {(c["victim"], c["defence"]): c["clean_accuracy"] for c in section["clean"]}
    assert set(clean) == {(v, d) for v in ("emo18", "emo18_at") for d in ("none", "median5", "noise")}
    for row in section["rows"]:
        assert row["clean_accuracy"] == clean[(row["victim"], row["defence"])]
        assert row["clean_cost"] == pytest.approx(clean[(row["victim"], "none")] - row["clean_accuracy"])
    # the median filter's clean accuracy, recomputed here from the checkpoint and the clips
    from staa.defenses import Defended, build_defenses

    victim = load_model(out / "models" / "emo18" / "best").eval()
    adv = AdversarialSet.load(out / "adversarial" / "emo18" / "pgd1" / "test")
    pred = predict(Defended(victim, build_defenses("median:kernel=5"), adaptive=False), _test_waves(out), adv.indices)
    assert clean[("emo18", "median5")] == pytest.approx(float((pred == adv.labels).mean()))


@pytest.mark.slow
def test_median_filter_undoes_a_one_sample_attack(lab):
    _, results = lab
    for victim in ("emo18", "emo18_at"):
        none = _rows(results, victim=victim, defence="none", attack="pgd1")[0]
        median = _rows(results, victim=victim, defence="median5", attack="pgd1", mode="non-adaptive")[0]
        assert median["robust_accuracy"] >= none["robust_accuracy"]
        assert median["asr"] == 0.0  # the 5-tap median removes the lone impulse: no prediction flips
        assert median["mean_sparsity_pct"] == none["mean_sparsity_pct"] == pytest.approx(100 / 4800)  # k = 1 of 4800
    attacked = _rows(results, victim="emo18", defence="none", attack="pgd1")[0]
    assert attacked["asr"] > 0  # the attack does something for the median filter to undo


@pytest.mark.slow
def test_adaptive_rows_rerun_baselines_through_each_defense_and_staa_is_reported_not_run(lab):
    out, results = lab
    adaptive = _rows(results, mode="adaptive")
    assert {(r["victim"], r["defence"], r["attack"]) for r in adaptive} == {
        (v, d, "pgd1") for v in ("emo18", "emo18_at") for d in ("median5", "noise")
    }
    assert all(r["threat"] == r["victim"] for r in adaptive)  # crafted on the defended victim itself
    assert [(n["attacker"], n["mode"]) for n in results["robustness"]["not_run"]] == [("staa", "adaptive")]
    records = json.loads((out / "robustness" / "emo18" / "median5" / "pgd1" / "test" / "records.json").read_text())
    row = _rows(results, victim="emo18", defence="median5", mode="adaptive")[0]
    assert records["n"] == row["n"] == 6
    table = (out / "tables" / "robustness.md").read_text()
    assert (
        table.count("| adaptive |") == 4 and table.count("| non-adaptive |") == 12
    )  # 2 victims × 3 defenses × 2 attackers
    assert all(r["asr_ci"]["n"] == r["n"] for r in results["robustness"]["rows"]) and "± " in table


# ---- budgeted sparsity -------------------------------------------------------------------------------
@pytest.mark.slow
def test_budget_reports_the_selected_checkpoint_and_the_dual_update_of_lambda(lab):
    out, results = lab
    (budget,) = results["budgets"]
    history = json.loads((out / "generators" / "emo18" / "staa" / "train.json").read_text())["history"]
    chosen = next(h for h in history if h["step"] == budget["best_step"])
    assert (budget["budget"], budget["target"], budget["weight"]) == ("k_percent", 5.0, "lambda_s")
    assert budget["steps"] == history[-1]["step"] and len(history) == 2  # two passes, one validation each
    assert budget["achieved"] == chosen["val_sparsity_all"] == budget["val_sparsity_pct"]
    assert budget["initial_lambda"] == pytest.approx(1e-4)  # the paper preset's λ_s
    assert budget["final_lambda"] == history[-1]["lambda_s"] and budget["lambda_at_best"] == chosen["lambda_s"]
    # multiplicative rule after the first validation: λ ← λ · measured / target, at most 10× either way
    first = history[0]
    factor = min(10.0, max(0.1, max(first["val_sparsity_all"], 0.01) / 5.0))
    assert history[1]["lambda_s"] == pytest.approx(first["lambda_s"] * factor)  # the next pass trains with it
    assert "budgets" in (out / "report.html").read_text()


# ---- targeted success per class -----------------------------------------------------------------------
@pytest.mark.slow
def test_targeted_success_skips_free_successes_and_replays_on_victims(lab):
    out, results = lab
    (row,) = results["targeted"]["rows"]
    assert list(row["per_target"]) == ["anger", "sadness"]
    model = load_model(out / "models" / "emo18" / "best").eval()
    base = AdversarialSet.load(out / "adversarial" / "emo18" / "pgd1" / "test").indices
    clean = predict(model, _test_waves(out), base)
    classes = results["corpus"]["classes"]
    rates = []
    for name, entry in row["per_target"].items():
        t = classes.index(name)
        assert entry["n"] == int((clean != t).sum())
        adv = AdversarialSet.load(out / "targeted" / "emo18" / "pgd1" / "test" / name)
        assert adv.indices.tolist() == base[clean != t].tolist() and adv.target == t
        assert entry["success_rate"] == pytest.approx(entry["n_success"] / entry["n"])
        assert entry["victims"]["emo18"] == pytest.approx(
            entry["success_rate"]
        )  # the threat model replays its own clips
        assert (
            entry["success_rate_ci"]["value"] == entry["success_rate"] and entry["success_rate_ci"]["n"] == entry["n"]
        )
        assert entry["victims_ci"]["emo18"]["value"] == pytest.approx(entry["victims"]["emo18"])
        rates.append(entry["success_rate"])
    assert row["mean_success_rate"] == pytest.approx(sum(rates) / len(rates))
    assert (out / "tables" / "targeted.md").read_text().count("| PGD (1 sample) |") == 3  # two targets + mean


# ---- universal perturbation ---------------------------------------------------------------------------
@pytest.mark.slow
def test_universal_attacker_adds_one_sparse_delta_to_every_clip(lab):
    """x_adv = clip(x + δ, −1, 1) with the one saved δ for every clip. With ε = 1 the clip to [−1, 1] is
    active wherever x + δ leaves the range, so x_adv − x differs between clips there: the check is
    against the clipped sum, not against x_adv − x being the same everywhere."""
    out, results = lab
    delta = load_file(str(out / "generators" / "emo18" / "universal" / "perturbation.safetensors"))[
        "perturbation"
    ].numpy()
    adv = AdversarialSet.load(out / "adversarial" / "emo18" / "universal" / "test")
    clean = np.asarray(_test_waves(out)[adv.indices])
    assert np.allclose(np.asarray(adv.x_adv), np.clip(clean + delta, -1, 1), atol=1e-6)  # input-agnostic
    inside = np.abs(clean + delta) < 1 - 1e-6  # where no clip happened, every clip got exactly δ
    assert np.allclose((np.asarray(adv.x_adv) - clean)[inside], np.broadcast_to(delta, clean.shape)[inside], atol=1e-6)
    assert 0 < int((delta != 0).sum()) <= math.ceil(0.05 * delta.shape[0])
    row = next(r for r in results["attacks"] if r["attacker"] == "universal")
    assert row["asr"]["emo18"] == pytest.approx(adv.success.mean())


# ---- resuming and validation --------------------------------------------------------------------------
@pytest.mark.slow
def test_rerun_skips_the_lab_steps_and_gives_identical_sections(lab, tmp_path):
    out, first = lab
    watched = [
        out / "models" / "emo18_at" / "best" / "model.safetensors",
        out / "robustness" / "emo18_at" / "noise" / "pgd1" / "test" / "x_adv.npy",
        out / "adversarial" / "emo18" / "staa" / "test" / "victims" / "emo18_at+noise.json",
        out / "targeted" / "emo18" / "pgd1" / "test" / "anger" / "x_adv.npy",
        out / "generators" / "emo18" / "universal" / "perturbation.safetensors",
    ]
    before = {p: p.stat().st_mtime_ns for p in watched}
    run_experiment(_config(tmp_path), out, show_progress=False, log=lambda _: None)
    assert {p: p.stat().st_mtime_ns for p in watched} == before
    second = json.loads((out / "results.json").read_text())
    for key in ("robustness", "budgets", "targeted", "models"):
        assert second[key] == first[key]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("defenses.attackers=[pgd1, fgsm]", "defenses.attackers: 'fgsm' is not an attacker"),
        ("defenses.victims=[hubert]", "defenses.victims: model 'hubert' is not defined"),
        ("defenses.pipelines.bad=median:kernal=5", "defenses.pipelines.bad: defense 'median'"),
        ("defenses.pipelines.bad=mp3", "defenses.pipelines.bad: unknown defense 'mp3'"),
        ("defenses.pipelines.none=median", "'none' is not a valid id"),
        ("defenses.split=val", "defenses.split 'val' is not one of the experiment's splits"),
        ("models.emo18_at.adversarial.from=hubert", "'from' names model 'hubert'"),
        ("models.emo18.adversarial={from: emo18_at}", "is a cycle"),
        ("models.emo18_at.adversarial.attack=fgsm", "unknown attack 'fgsm'"),
        ("attackers.staa.train.budget={sparsity_pct: 5, snr_db: 30}", "exactly one of k_percent, snr_db"),
        ("targeted.attackers=[staa]", "would need training per target class"),
        ("targeted.attackers=[pgd2]", "targeted.attackers: 'pgd2' is not an attacker"),
    ],
)
def test_bad_references_fail_in_one_line_naming_the_file(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message) as info:
        _config(tmp_path, override)
    assert "\n" not in str(info.value) and "lab.yaml" in str(info.value)


@pytest.mark.slow
def test_unknown_target_class_is_refused_before_crafting(lab, tmp_path):
    out, _ = lab
    config = _config(tmp_path, "targeted.classes=[boredom]")
    with pytest.raises(ConfigError, match=r"targeted.classes: \['boredom'\] are not classes"):
        run_experiment(config, out, show_progress=False, log=lambda _: None)


def _test_waves(out: Path) -> np.ndarray:
    from staa.data.cache import PreparedCorpus

    return PreparedCorpus.load(next((out / "cache").rglob("manifest.json")).parent).split("test").waves
