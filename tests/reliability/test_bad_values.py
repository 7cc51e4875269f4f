"""Bad input, category 4: values nobody range-checked.

Numbers in a checkpoint's ``config.json`` (negative, absurdly large, of the wrong type, a list where an
object belongs) are refused in one line naming the file and the key, before anything is built from them
(an absurd size is compared with the weights file's header on the meta device, never allocated). Defense
parameters, command-line numbers and experiment keys are checked where they enter, before any training.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest


def _damaged(checkpoints: Path, name: str, tmp_path: Path, **changes) -> Path:
    """A copy of checkpoint ``name`` whose config.json has ``changes`` (a key set to None is removed)."""
    folder = tmp_path / f"{name}-damaged"
    shutil.copytree(checkpoints / name, folder)
    config = {**json.loads((folder / "config.json").read_text()), **changes}
    (folder / "config.json").write_text(json.dumps({k: v for k, v in config.items() if v is not None}))
    return folder


SER_CONFIGS = {
    "negative class count": ({"num_classes": -3}, "num_classes: must be an integer in [2, 10000], got -3"),
    "absurd class count": ({"num_classes": 10**9, "class_names": []}, "num_classes: must be an integer in [2, 10000]"),
    "class count as text": ({"num_classes": "7"}, "num_classes: must be an integer, got '7'"),
    "class count as float": ({"num_classes": 7.5}, "num_classes: must be an integer, got 7.5"),
    "absurd hidden size": ({"hidden": 10**6}, "hidden: must be an integer in [1, 4096]"),
    "hidden size that is not the weights'": ({"hidden": 4096}, "weights do not match Emo18"),
    "negative hidden size": ({"hidden": -8}, "hidden: must be an integer in [1, 4096], got -8"),
    "object where a list belongs": ({"class_names": {"anger": 0}}, "class_names: must be a list of strings"),
    "names of another count": ({"class_names": ["a", "b"]}, "class_names lists 2 classes, num_classes is 7"),
    "repeated names": ({"class_names": ["a"] * 7}, "class_names must be distinct"),
    "rate as text": ({"sample_rate": "16k"}, "sample_rate: must be an integer, got '16k'"),
    "negative rate": ({"sample_rate": -16000}, "sample_rate: must be an integer in [1, 768000]"),
    "a list, not an object": ([1, 2, 3], "config.json must hold a JSON object, got list"),
}


@pytest.mark.parametrize("case", sorted(SER_CONFIGS))
def test_ser_checkpoint_config_values(case, staa, checkpoints, micro, tmp_path):
    changes, fragment = SER_CONFIGS[case]
    if isinstance(changes, list):
        folder = tmp_path / "ckpt"
        shutil.copytree(checkpoints / "emo18", folder)
        (folder / "config.json").write_text(json.dumps(changes))
    else:
        folder = _damaged(checkpoints, "emo18", tmp_path, **changes)
    line = staa.refuses(["ser", "evaluate", folder, *micro], fragment, keep=(folder,))
    assert str(folder) in line


GENERATOR_CONFIGS = {
    "absurd depth": ({"levels": 1000}, "levels must be in [2, 12], got 1000"),
    "absurd width": ({"features": 10**6}, "features must be in [1, 1024]"),
    "width that is not the weights'": ({"features": 1024}, "weights do not match Generator"),
    "negative width": ({"features": -1}, "features must be in [1, 1024], got -1"),
    "eps as text": ({"eps": "0.05"}, "eps: must be a finite number, got '0.05'"),
    "NaN eps": ({"eps": math.nan}, "eps: must be a finite number, got nan"),
    "unknown norm": ({"norm": 5}, "norm: must be a string, got 5"),
}


@pytest.mark.parametrize("case", sorted(GENERATOR_CONFIGS))
def test_generator_checkpoint_config_values(case, staa, checkpoints, micro, tmp_path):
    changes, fragment = GENERATOR_CONFIGS[case]
    gen, out = _damaged(checkpoints, "gen", tmp_path, **changes), tmp_path / "adv"
    args = ["generator", "apply", gen, "--model", checkpoints / "emo18", "--out", out, *micro]
    line = staa.refuses(args, fragment, keep=(out,))
    assert str(gen) in line


DEFENDED_CONFIGS = {
    "absurd EOT draws": ({"eot_samples": 10**9}, "eot_samples: must be an integer in [1, 1000]"),
    "a list where an object belongs": ({"defences": [["median", 5]]}, "defences: must be a list of objects"),
    "NaN noise": (
        {"defences": [{"name": "noise", "sigma": math.nan}]},
        "noise: sigma: must be a number in (0, 1], got nan",
    ),
    "even median": ({"defences": [{"name": "median", "kernel": 4}]}, "median: kernel must be an odd integer"),
    "float kernel": ({"defences": [{"name": "median", "kernel": 5.5}]}, "median: kernel: must be an integer"),
    "unknown defense": ({"defences": [{"name": "blur"}]}, "unknown defense 'blur'"),
}


@pytest.mark.parametrize("case", sorted(DEFENDED_CONFIGS))
def test_defended_checkpoint_config_values(case, staa, checkpoints, micro, tmp_path):
    defended = tmp_path / "defended"
    staa.succeeds("defense", "wrap", checkpoints / "emo18", "--defense", "median:kernel=3", "--out", defended)
    changes, fragment = DEFENDED_CONFIGS[case]
    config = {**json.loads((defended / "config.json").read_text()), **changes}
    (defended / "config.json").write_text(json.dumps(config))
    line = staa.refuses(["ser", "evaluate", defended, *micro], fragment, keep=(defended,))
    assert str(defended / "config.json") in line


def test_non_finite_weights_are_refused(staa, checkpoints, micro, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "nan"
    shutil.copytree(checkpoints / "emo18", folder)
    state = load_file(str(folder / "model.safetensors"))
    state["head.linear.bias"][0] = math.nan
    save_file(state, str(folder / "model.safetensors"))
    staa.refuses(["ser", "evaluate", folder, *micro], "weights contain NaN or infinite values ('head.linear.bias')")


DEFENSE_SPECS = {
    "noise:sigma=nan": "sigma must be a finite number, got 'nan'",
    "noise:sigma=inf": "sigma must be a finite number, got 'inf'",
    "noise:sigma=-0.1": "noise: sigma: must be a number in (0, 1], got -0.1",
    "median:kernel=4": "median: kernel must be an odd integer",
    "median:kernel=5.5": "median: kernel: must be an integer in [3, 4095], got 5.5",
    "median:kernel=abc": "median: kernel: must be an integer in [3, 4095], got 'abc'",
    "quantize:bits=0": "quantize: bits: must be an integer in [1, 24], got 0",
    "lowpass:cutoff_hz=nan": "cutoff_hz must be a finite number",
    "lowpass:cutoff_hz=9000": "lowpass: cutoff must be in (0, 8000) Hz",
    "resample:rate=8000.5": "resample: rate: must be an integer",
    "median:size=5": "defense 'median'",
}


@pytest.mark.parametrize("spec", sorted(DEFENSE_SPECS))
def test_defense_parameters_on_the_command_line(spec, staa, checkpoints, tmp_path):
    """``noise:sigma=nan`` used to be saved into the defended checkpoint and evaluated to chance."""
    out = tmp_path / "defended"
    staa.refuses(
        ["defense", "wrap", checkpoints / "emo18", "--defense", spec, "--out", out], DEFENSE_SPECS[spec], keep=(out,)
    )


def _train(out: Path) -> list[str]:
    return ["ser", "train", "emo18", "--out", str(out), "--epochs", "1", "--quiet"]


OPTIONS = {
    "--seconds nan": (["--seconds", "nan"], "'--seconds': must be a finite number, got nan"),
    "--seconds -1": (["--seconds", "-1"], "seconds: must be a number in (0, 60], got -1.0"),
    "--seconds 1e9": (["--seconds", "1e9"], "seconds: must be a number in (0, 60]"),
    "--batch-size 0": (["--batch-size", "0"], "Invalid value for '--batch-size'"),
    "--epochs 0": (["--epochs", "0"], "epochs: must be an integer in [1, 1000000], got 0"),
    "--epochs abc": (["--epochs", "abc"], "Invalid value for '--epochs'"),
    "--lr inf": (["--lr", "inf"], "'--lr': must be a finite number, got inf"),
    "--lr nan": (["--lr", "nan"], "'--lr': must be a finite number, got nan"),
    "--seed -1": (["--seed", "-1"], "Invalid value for '--seed'"),
    "--seed 2^40": (["--seed", str(2**40)], "Invalid value for '--seed'"),
}


@pytest.mark.parametrize("case", sorted(OPTIONS))
def test_command_line_numbers_are_checked_before_any_work(case, staa, micro_manifest, tmp_path):
    extra, fragment = OPTIONS[case]
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = [*_train(out), "--corpus", micro_manifest, "--cache", cache, *extra]
    if "--seconds" not in extra:
        args += ["--seconds", "0.25"]
    staa.refuses(args, fragment, keep=(out, cache))


def test_clips_too_short_for_the_model_are_refused_before_training(staa, micro_manifest, tmp_path):
    """The corpus is prepared first (a complete cache, reused later); the run stops before any training."""
    out = tmp_path / "out"
    args = [*_train(out), "--corpus", micro_manifest, "--cache", tmp_path / "cache", "--seconds", "0.01"]
    staa.refuses(args, "clips of 160 samples are shorter than the 731 that Emo18 needs", keep=(out,))


ATTACK_OPTIONS = {
    "--eps nan": (["--eps", "nan"], "'--eps': must be a finite number, got nan"),
    "--eps 2": (["--eps", "2"], "eps must be in (0, 1], got 2.0"),
    "--k-percent 150": (["--k-percent", "150"], "k_percent must be in (0, 100], got 150.0"),
    "--limit 0": (["--limit", "0"], "Invalid value for '--limit'"),
    "--target-class joy": (
        ["--targeted", "--target-class", "joy"],
        "--target-class: unknown class 'joy' (classes: anger,",
    ),
    "--target-class 9": (["--targeted", "--target-class", "9"], "--target-class: unknown class '9'"),
    "--target-class alone": (["--target-class", "anger"], "--target-class: goes together with --targeted"),
    "--steps 1.5": (["--steps", "1.5"], "Invalid value for '--steps'"),
}


@pytest.mark.parametrize("case", sorted(ATTACK_OPTIONS))
def test_attack_options(case, staa, checkpoints, micro, tmp_path):
    extra, fragment = ATTACK_OPTIONS[case]
    out = tmp_path / "out"
    staa.refuses(
        ["attack", "run", "pgd", "--model", checkpoints / "emo18", "--out", out, *micro, *extra], fragment, keep=(out,)
    )


OTHER_COMMANDS = {
    "adv-train --adv-fraction 2": (
        ["defense", "adv-train", "{emo18}", "--adv-fraction", "2"],
        "adv_fraction: must be a number in [0, 1], got 2.0",
    ),
    "adv-train pgd:k_percent=nan": (
        ["defense", "adv-train", "{emo18}", "--attack", "pgd:k_percent=nan"],
        "k_percent must be a finite number",
    ),
    "adv-train pgd:width=3": (["defense", "adv-train", "{emo18}", "--attack", "pgd:width=3"], "attack 'pgd'"),
    "evaluate --eot-samples 0": (
        ["defense", "evaluate", "--model", "{emo18}", "--defense", "median", "--attack", "pgd", "--eot-samples", "0"],
        "Invalid value for '--eot-samples'",
    ),  # fmt: skip
    "evaluate pgd:eps=nan": (
        ["defense", "evaluate", "--model", "{emo18}", "--defense", "median", "--attack", "pgd:eps=nan"],
        "eps must be a finite number",
    ),  # fmt: skip
    "apply --max-seconds 0": (
        ["generator", "apply", "{gen}", "--model", "{emo18}", "--input-dir", "{tmp}", "--max-seconds", "0"],
        "--max-seconds: must be a number > 0, got 0.0",
    ),  # fmt: skip
    "generator train --budget-sparsity 150": (
        ["generator", "train", "--threat", "{emo18}", "--budget-sparsity", "150"],
        "target sparsity",
    ),  # fmt: skip
    "generator train --target-class alone": (
        ["generator", "train", "--threat", "{emo18}", "--target-class", "anger"],
        "--target-class: goes together with --targeted",
    ),  # fmt: skip
    "generator train --kappa nan": (
        ["generator", "train", "--threat", "{emo18}", "--kappa", "nan"],
        "'--kappa': must be a finite number, got nan",
    ),  # fmt: skip
    "generator train --lambda-s inf": (
        ["generator", "train", "--threat", "{emo18}", "--lambda-s", "inf"],
        "'--lambda-s': must be a finite number, got inf",
    ),  # fmt: skip
    "universal --lr nan": (
        ["attack", "universal", "--model", "{emo18}", "--lr", "nan"],
        "'--lr': must be a finite number",
    ),
    "universal --lr -1": (
        ["attack", "universal", "--model", "{emo18}", "--lr", "-1"],
        "universal fit: lr: must be a number > 0",
    ),
    "generator train --arch huge": (
        ["generator", "train", "--threat", "{emo18}", "--arch", "huge"],
        "--arch: unknown choice 'huge'",
    ),
}


@pytest.mark.parametrize("case", sorted(OTHER_COMMANDS))
def test_other_commands_options(case, staa, checkpoints, micro, tmp_path):
    command, fragment = OTHER_COMMANDS[case]
    out = tmp_path / "out"
    args = [a.format(emo18=checkpoints / "emo18", gen=checkpoints / "gen", tmp=tmp_path) for a in command]
    staa.refuses([*args, "--out", out, *(micro if "--input-dir" not in args else ["--quiet"])], fragment, keep=(out,))


EXPERIMENT_KEYS = {
    "epochs -1": ("models.emo18.epochs=-1", "models.emo18: epochs: must be an integer in [1, 1000000], got -1"),
    "epochs 2.5": ("models.emo18.epochs=2.5", "models.emo18: epochs: must be an integer, got 2.5"),
    "epochs text": ("models.emo18.epochs=many", "models.emo18: epochs: must be an integer, got 'many'"),
    "lr 0": ("models.emo18.lr=0", "models.emo18: learning rate: must be a number in (0, 10]"),
    "seed -1": ("seed=-1", "seed: must be an integer in [0, 4294967295], got -1"),
    "seed text": ("seed=abc", "seed: must be an integer in [0, 4294967295], got 'abc'"),
    "max_examples 0": ("max_examples=0", "max_examples: must be an integer ≥ 1, got 0"),
    "corpus.options unknown": ("corpus.options={colour: red}", "corpus 'synthetic': unknown options ['colour']"),
    "corpus.options a list": ("corpus.options=[1, 2]", "corpus.options must be a mapping, got [1, 2]"),
    "corpus.options bad value": (
        "corpus.options={n_speakers: 1}",
        "n_speakers: must be an integer in [3, 1000], got 1",
    ),
    "corpus.seconds": ("corpus.seconds=100000", "corpus.seconds: must be a number in (0, 60], got 100000"),
    "model option typo": ("models.emo18.options={hiden: 8}", "options: unknown settings ['hiden']"),
    "model option type": ("models.emo18.options={hidden: wide}", "hidden: must be an integer, got 'wide'"),
    "attack setting": ("attackers.pgd.settings.k_percent=150", "attacker 'pgd': pgd: k_percent must be in (0, 100]"),
    "generator epochs": ("attackers.staa={attack: staa, train: {epochs: 0}}", "attacker 'staa': generator training"),
    "report.chunk_size": ("report.chunk_size=0", "report.chunk_size: must be an integer in [1, 100000], got 0"),
    "no splits": ("splits=[]", "splits: must list some of train, val, test, got []"),
    "generator kappa": (
        "attackers.staa={attack: staa, train: {kappa: .nan}}",
        "generator training: kappa: must be a finite number",
    ),
    "universal fit lr": ("attackers.u={attack: universal, fit: {lr: -1}}", "universal fit: lr: must be a number > 0"),
}


@pytest.mark.parametrize("case", sorted(EXPERIMENT_KEYS))
def test_experiment_keys_are_checked_before_any_training(case, staa, tiny_experiment, tmp_path):
    override, fragment = EXPERIMENT_KEYS[case]
    out = tmp_path / "run"
    line = staa.refuses(["run", tiny_experiment, "--out", out, "--set", override], fragment, keep=(out,))
    assert str(tiny_experiment) in line
