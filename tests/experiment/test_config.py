"""Experiment files: built-ins, overrides, validation up front in one line naming the file."""

from __future__ import annotations

import pytest

from staa.errors import ConfigError
from staa.experiment import load_config, run_experiment
from staa.experiment.config import BUILTIN, apply_override, builtin_path
from staa.experiment.plans import attacker_plans

#: what a built-in experiment needs beyond its own corpus's folder before it is read
REQUIRED = {
    "emodb-pooled": [
        "models.emo18.pretrain.corpora.ravdess=/data/ravdess",
        "models.emo18.pretrain.corpora.nemo=/data/nemo",
    ],
    "ravdess-pooled": [
        "models.emo18.pretrain.corpora.emodb=/data/emodb",
        "models.emo18.pretrain.corpora.nemo=/data/nemo",
    ],
}


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_experiments_load(name):
    config = load_config(name, REQUIRED.get(name, ()))
    assert config["name"] == name and builtin_path(name).exists()
    assert all(p.label for t in config["threat_models"] for p in attacker_plans(config, t))


def test_paper_protocols_encode_the_papers_settings():
    demos, iemocap = load_config("demos"), load_config("iemocap")
    assert (demos["eps"], demos["corpus"]["seconds"], iemocap["eps"], iemocap["corpus"]["seconds"]) == (
        0.05,
        6.0,
        0.01,
        8.7,
    )
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


@pytest.mark.parametrize("name", ["emodb", "ravdess", "nemo"])
def test_an_override_of_one_attacker_never_reaches_another_that_shares_its_yaml_anchor(name):
    """The shipped files give the adjoint and the guided generator one ``train`` (a YAML anchor and alias)."""
    shared = load_config(name)
    assert shared["attackers"]["guided"]["train"] == shared["attackers"]["staa"]["train"]
    config = load_config(name, ["attackers.staa.train.steps=800"])
    assert config["attackers"]["staa"]["train"]["steps"] == 800
    assert config["attackers"]["guided"]["train"]["steps"] == 400
    assert config["attackers"]["guided"]["generator"] == {"preset": "guided", "stages": 2}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("victims=[emo18, hubert]", "model 'hubert' is used but not defined"),
        ("attackers.pgd.attack=fgsm", "unknown attack 'fgsm'"),
        ("eps=2", r"eps must be in \(0, 1\]"),
        ("splits=[dev]", "splits: must list some of train, val, test"),
        ("colour=blue", "unknown keys"),
        ("controls.authors_shift=maybe", "authors_shift must be auto, true or false"),
        ("attackers.a/b={attack: pgd}", "'a/b' is not a valid id"),
        ("attackers.zero={attack: pgd}", "'zero' is not a valid id"),
        ("threads=0", r"threads: must be an integer in \[1, 1024\]"),
        ("threads=two", "threads: must be an integer"),
        ("attack_seeds=[1, 1]", "attack_seeds: must be a list of distinct seeds"),
        ("attack_seeds=[-1]", "attack_seeds"),
        ("models.emo18.recipe=fast", "unknown SER training recipe 'fast'"),
        ("models.emo18.recipe_settings={patience: 0}", "patience: must be an integer"),
        ("models.emo18.recipe_settings={augment: {pitch: 2}}", "augmentation: unknown setting"),
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


def test_models_take_their_recipe_by_name():
    from staa.experiment.plans import model_train_config

    emodb, ravdess = load_config("emodb"), load_config("ravdess")  # each with the recipe that won on its validation
    for model in emodb["models"]:  # the paper's recipe for 20 epochs
        cfg = model_train_config(emodb, model, 0)
        assert cfg.epochs == 20 and cfg.schedule == "constant" and cfg.augment is None
    for model in ravdess["models"]:  # the small-corpus recipe
        cfg = model_train_config(ravdess, model, 0)
        assert cfg.epochs == 20 and cfg.schedule == "cosine" and cfg.augment is not None and cfg.patience == 8
    demo = load_config(
        "demo", ["models.emo18.recipe=small_corpus", "models.emo18.recipe_settings={augment: {mix_prob: 0}}"]
    )
    cfg = model_train_config(demo, "emo18", 3)
    assert cfg.seed == 3 and cfg.augment.mix_prob == 0 and cfg.epochs == demo["models"]["emo18"]["epochs"]


def test_defaults_are_filled_in_once_when_the_file_is_read(tmp_path):
    """What a file leaves out is in the parsed config (one place applies defaults), the report's keys included."""
    import yaml

    from staa.experiment.config import DEFAULTS, REPORT_DEFAULTS

    demo = load_config("demo")
    minimal = {k: demo[k] for k in ("name", "corpus", "models", "threat_models", "victims", "attackers")}
    minimal["report"] = {"examples": 0}
    path = tmp_path / "minimal.yaml"
    path.write_text(yaml.safe_dump(minimal))
    config = load_config(path)
    assert {k: config[k] for k in DEFAULTS} == DEFAULTS
    assert config["report"] == {**REPORT_DEFAULTS, "examples": 0}


def test_every_top_level_key_and_default_is_documented():
    """The schema's documentation (staa.experiment's docstring) names every key the validation accepts."""
    import re

    import staa.experiment
    from staa.experiment.config import DEFAULTS, KEYS, REPORT_DEFAULTS

    doc = staa.experiment.__doc__
    block = doc[doc.index("Configuration") : doc.index("The package, read top down")]
    assert all(re.search(rf"\b{key}\b", block) for key in KEYS)
    assert set(DEFAULTS) <= KEYS and all(key in block for key in REPORT_DEFAULTS)


@pytest.mark.parametrize(("name", "base"), [("emodb-pooled", "emodb"), ("ravdess-pooled", "ravdess")])
def test_the_pooled_experiments_change_only_emo18s_training(name, base):
    from staa.experiment.plans import model_train_config, pretrain_settings

    pooled, plain = load_config(name, REQUIRED[name]), load_config(base)
    assert {k: v for k, v in pooled.items() if k not in ("name", "models")} == {
        k: v for k, v in plain.items() if k not in ("name", "models")
    }
    assert pooled["models"]["zhao19"] == plain["models"]["zhao19"]
    cfg = model_train_config(pooled, "emo18", 0)
    assert (cfg.lr, cfg.schedule, cfg.augment) == (3.0e-4, "constant", None)  # the paper's recipe, a third of its lr
    assert cfg.epochs == {"emodb": 16, "ravdess": 12}[base]  # the fine-tuning lengths chosen on validation
    pre = pretrain_settings(pooled, "emo18")
    assert set(pre["roots"]) == {"emodb", "ravdess", "nemo"} and pre["train_only"] == [base]
    assert pretrain_settings(plain, "emo18") is None
    with pytest.raises(ConfigError, match=r"pretrain\.corpora\.(ravdess|emodb) needs its folder") as refused:
        load_config(name)  # refused when read, before any work
    assert str(refused.value).count("models.emo18") == 2  # the key, and the --set that gives it


def test_a_file_changes_the_keys_it_names_of_its_base(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "base: demo\nname: mine\nseed: 3\nsplits: [test]\nmodels: {emo18: {epochs: 2}}\n"
        "attackers: {pgd: {settings: {steps: 4}}}\n"
    )
    (tmp_path / "more.yaml").write_text("base: mine.yaml\nname: more\nreport: {examples: 0}\n")
    demo, config = load_config("demo"), load_config(tmp_path / "more.yaml", ["seed=5"])
    assert (config["name"], config["seed"], config["splits"], config["report"]["examples"]) == ("more", 5, ["test"], 0)
    # a mapping merges key by key: the other keys of emo18 and of the pgd attacker are the base's
    assert config["models"]["emo18"] == {**demo["models"]["emo18"], "epochs": 2}
    assert config["models"]["zhao19"] == demo["models"]["zhao19"]
    assert config["attackers"]["pgd"] == {
        **demo["attackers"]["pgd"],
        "settings": {**demo["attackers"]["pgd"]["settings"], "steps": 4},
    }
    assert config["attackers"].keys() == demo["attackers"].keys()
    assert "base" not in config


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("base: mine.yaml\n", "a cycle"),
        ("base: [demo]\n", "base: a built-in experiment"),
        ("base: absent.yaml\n", "no such experiment file"),
    ],
)
def test_a_bad_base_is_refused_in_one_line(tmp_path, text, problem):
    (tmp_path / "mine.yaml").write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_config(tmp_path / "mine.yaml")
