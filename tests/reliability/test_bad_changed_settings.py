"""Bad input, category 2: a resumed or repeated run with changed settings.

Every command that writes into ``--out`` claims the folder for its settings (``spec.json``). A rerun with
other settings, into a finished folder or one a killed run left behind, is refused in one line naming
what changed (old → new), leaving the folder as it was; ``--overwrite`` starts over. Before, a killed
``attack run --k-percent 10`` resumed with ``--k-percent 90`` wrote a records.json of clips crafted under
both budgets that stated 90, and a finished folder answered for any settings with its old result.
Documented exception: SER and generator training may be continued to *more* epochs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

PGD = ["attack", "run", "pgd", "--steps", "1", "--limit", "2", "--batch-size", "1"]


def _records(out: Path) -> dict:
    return json.loads((out / "records.json").read_text())


def test_attack_run_refuses_another_budget_on_a_finished_folder(staa, checkpoints, micro, tmp_path):
    out = tmp_path / "pgd"
    base = [*PGD, "--model", checkpoints / "emo18", "--out", out, *micro]
    staa.succeeds(*base, "--k-percent", "10")
    staa.refuses(
        [*base, "--k-percent", "90"], "other settings (options.k_percent: 10.0 → 90.0)", "--overwrite", keep=(out,)
    )
    again = staa.succeeds(*base, "--k-percent", "10")  # the same settings: the finished set is reused
    assert "on 2 clips" in again.out
    staa.succeeds(*base, "--k-percent", "90", "--overwrite")
    sparsity = [e["sparsity_pct"] for e in _records(out)["examples"]]
    assert all(s > 50 for s in sparsity), sparsity  # every clip was crafted anew at 90 %


def test_attack_run_killed_then_resumed_with_another_budget_is_refused(staa, checkpoints, micro, tmp_path, monkeypatch):
    """The issue's case: chunks crafted at k 10 % must not be joined by chunks at 90 %."""
    import staa.evaluation.adversarial_set as store

    out = tmp_path / "pgd"
    base = [*PGD, "--model", checkpoints / "emo18", "--out", out, *micro]
    with monkeypatch.context() as m:
        m.setattr(store, "_finalize", _killed)
        assert staa(*base, "--k-percent", "10").code == 130
    assert sorted(p.name for p in (out / "parts").iterdir()) == ["0000000.npz", "0000001.npz"]
    assert not (out / "records.json").exists()
    staa.refuses([*base, "--k-percent", "90"], "options.k_percent: 10.0 → 90.0", keep=(out,))
    staa.succeeds(*base, "--k-percent", "10")
    assert all(e["sparsity_pct"] < 20 for e in _records(out)["examples"])


def _killed(*args, **kwargs):
    raise KeyboardInterrupt  # Ctrl-C after the last chunk was written, before records.json


@pytest.mark.parametrize(
    "first, second, changed",
    [
        (["--epochs", "1"], ["--epochs", "2"], "fit.epochs: 1 → 2"),
        (["--k-percent", "5"], ["--k-percent", "50"], "fit.k_percent: 5.0 → 50.0"),
        (["--limit", "2"], ["--limit", "3"], "n: 2 → 3"),
    ],
    ids=["epochs", "budget", "clips"],
)
def test_attack_universal_refuses_to_reuse_a_perturbation_fitted_otherwise(
    first, second, changed, staa, checkpoints, micro, tmp_path
):
    out = tmp_path / "universal"
    base = ["attack", "universal", "--model", checkpoints / "emo18", "--out", out, "--fit-limit", "4", *micro]
    defaults = {"--epochs": "1", "--k-percent": "5", "--limit": "2"}
    staa.succeeds(*base, *_with(defaults, first))
    staa.refuses([*base, *_with(defaults, second)], changed, keep=(out,))


def _with(defaults: dict[str, str], given: list[str]) -> list[str]:
    options = {**defaults, **dict(zip(given[::2], given[1::2]))}
    return [x for kv in options.items() for x in kv]


def test_ser_train_refuses_other_settings_and_continues_to_more_epochs(staa, micro, tmp_path):
    out = tmp_path / "ser"
    base = ["ser", "train", "zhao19", "--out", out, "--batch-size", "16", *micro]
    staa.succeeds(*base, "--epochs", "1")
    staa.refuses([*base, "--epochs", "1", "--lr", "0.01"], "train.lr: 0.001 → 0.01", keep=(out,))
    staa.refuses([*base, "--epochs", "1", "--seed", "3"], "initial_weights", "train.seed: 0 → 3", keep=(out,))
    staa.succeeds(*base, "--epochs", "2")  # documented: more epochs continue the same run
    history = json.loads((out / "train.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    staa.refuses([*base, "--epochs", "1"], "trained for 2 epochs already, more than the 1 asked", keep=(out,))
    staa.succeeds(*base, "--epochs", "1", "--lr", "0.01", "--overwrite")
    saved = json.loads((out / "train.json").read_text())
    assert len(saved["history"]) == 1 and saved["train_config"]["lr"] == 0.01


def test_generator_train_refuses_other_loss_weights(staa, checkpoints, micro, tmp_path):
    """The topk preset trains without λ_s (its mask keeps the budget); asking for one is another setting."""
    out = tmp_path / "gen"
    base = ["generator", "train", "--threat", checkpoints / "emo18", "--out", out, "--epochs", "1", *micro]
    staa.succeeds(*base)
    staa.refuses([*base, "--lambda-s", "0.5"], "train.lambda_s: 0.0 → 0.5", keep=(out,))
    staa.refuses([*base, "--threat", checkpoints / "zhao19"], "threat_models", keep=(out,))


def test_adversarial_training_refuses_another_mix(staa, checkpoints, micro, tmp_path):
    out = tmp_path / "at"
    base = ["defense", "adv-train", checkpoints / "emo18", "--out", out, "--epochs", "1", "--batch-size", "16",
            "--attack", "pgd:steps=1", *micro]  # fmt: skip
    staa.succeeds(*base)
    staa.refuses([*base, "--adv-fraction", "1.0"], "train.adv_fraction: 0.5 → 1.0", keep=(out,))


def test_generator_apply_refuses_another_eps_or_other_inputs(staa, checkpoints, micro, tmp_path):
    import numpy as np
    import soundfile as sf

    clips = tmp_path / "clips"
    clips.mkdir()
    sf.write(str(clips / "a.wav"), (0.3 * np.sin(np.arange(4000) / 7)).astype(np.float32), 16_000)
    out = tmp_path / "adv"
    base = ["generator", "apply", checkpoints / "gen", "--model", checkpoints / "emo18", "--out", out, "--quiet"]
    staa.succeeds(*base, "--input-dir", clips)
    staa.refuses([*base, "--input-dir", clips, "--eps", "0.01"], "eps: 0.05 → 0.01", keep=(out,))
    sf.write(str(clips / "b.wav"), (0.3 * np.sin(np.arange(4000) / 9)).astype(np.float32), 16_000)
    staa.refuses([*base, "--input-dir", clips], "inputs.n: 1 → 2", keep=(out,))
    staa.refuses([*base, *micro], "source", keep=(out,))


def test_targets_and_robustness_refuse_other_settings(staa, checkpoints, micro, tmp_path):
    targets, robust = tmp_path / "targets", tmp_path / "robust"
    t = ["attack", "targets", "pgd", "--model", checkpoints / "emo18", "--out", targets, "--steps", "1", *micro]
    staa.succeeds(*t, "--limit", "2")
    staa.refuses([*t, "--limit", "3"], "n: 2 → 3", keep=(targets,))
    r = ["defense", "evaluate", "--model", checkpoints / "emo18", "--attack", "pgd:steps=1", "--out", robust,
         "--limit", "2", "--no-adaptive", *micro]  # fmt: skip
    staa.succeeds(*r, "--defense", "median:kernel=3")
    staa.refuses([*r, "--defense", "median:kernel=5"], "defenses", keep=(robust,))


def test_defense_wrap_never_writes_over_another_checkpoint(staa, checkpoints, tmp_path):
    victim = tmp_path / "victim"
    shutil.copytree(checkpoints / "emo18", victim)
    out = tmp_path / "defended"
    staa.succeeds("defense", "wrap", victim, "--defense", "median:kernel=5", "--out", out)
    staa.refuses(["defense", "wrap", victim, "--defense", "quantize:bits=8", "--out", out], "defended.defences",
                 keep=(out,))  # fmt: skip
    staa.refuses(["defense", "wrap", victim, "--defense", "median:kernel=5", "--out", victim], "the victim's own folder",
                 keep=(victim,))  # fmt: skip
    staa.refuses(["defense", "wrap", victim, "--defense", "median:kernel=5", "--out", checkpoints / "zhao19"],
                 "holds outputs (config.json) made with unrecorded settings", keep=(checkpoints / "zhao19",))  # fmt: skip


def test_a_damaged_claim_is_named(staa, checkpoints, micro, tmp_path):
    out = tmp_path / "pgd"
    base = [*PGD, "--model", checkpoints / "emo18", "--out", out, *micro]
    staa.succeeds(*base)
    (out / "spec.json").write_text("{not json")
    staa.refuses(base, "spec.json is damaged", keep=(out,))


@pytest.mark.slow  # trains a tiny experiment once, then reruns it with another setting
def test_experiment_rerun_with_other_settings_is_refused_then_overwritten(staa, tiny_experiment, tmp_path):
    experiment, out = tiny_experiment, tmp_path / "run"
    staa.succeeds("run", experiment, "--out", out, "--quiet")
    staa.refuses(["run", experiment, "--out", out, "--quiet", "--set", "models.emo18.lr=0.01"], "train.lr",
                 keep=(out / "models",))  # fmt: skip
    staa.succeeds("run", experiment, "--out", out, "--quiet", "--set", "models.emo18.lr=0.01", "--overwrite")
    assert json.loads((out / "models" / "emo18" / "train.json").read_text())["train_config"]["lr"] == 0.01


def test_attack_sweep_refuses_other_budgets_and_reuses_its_own(staa, checkpoints, micro, tmp_path):
    out = tmp_path / "sweep"
    base = ["attack", "sweep", "pgd", "--model", checkpoints / "emo18", "--out", out, "--steps", "1", "--limit", "2",
            "--batch-size", "2", *micro]  # fmt: skip
    staa.succeeds(*base, "--k-percent", "5")
    staa.refuses([*base, "--k-percent", "20"], "budgets: [5.0] → [20.0]", "--overwrite", keep=(out,))
    staa.succeeds(*base, "--k-percent", "5")  # the same settings: the finished set is reused
    staa.succeeds(*base, "--k-percent", "20", "--overwrite")
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["k20"]
