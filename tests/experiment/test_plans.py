"""Attacker plans and the settings every attack and model is built from, ε included."""

from __future__ import annotations

import pytest

from staa.attacks.staa import GeneratorConfig, STAATrainConfig
from staa.defaults import DEFAULT_EPS, GENERATOR_PRESET, TRAINING_PRESET
from staa.errors import ConfigError
from staa.experiment import load_config
from staa.experiment.config import apply_defaults
from staa.experiment.plans import (
    attacker_plans,
    generator_config,
    model_train_config,
    per_clip_attack,
    train_config,
)
from staa.models import build_model


def test_an_attacker_can_be_removed_with_null():
    config = load_config("demo", ["attackers.sparsefool=null"])
    assert "sparsefool" not in [p.id for p in attacker_plans(config, "emo18")]


def test_ablations_inherit_their_attacker_and_controls_follow_alignment():
    config = load_config("demo", ["ablations.no_mag={of: staa, label: w/o magnitude, train: {no_magnitude: true}}"])
    plans = {p.id: p for p in attacker_plans(config, "emo18")}
    assert plans["no_mag"].group == "ablation" and plans["no_mag"].attack == "staa"
    assert plans["no_mag"].train == {**config["attackers"]["staa"]["train"], "no_magnitude": True}
    assert plans["no_mag"].train != plans["staa"].train  # the ablation's own setting on top of its attacker's
    assert plans["zero"].group == plans["authors_shift"].group == "control"
    assert plans["authors_shift"].generator == {"preset": "fast", "alignment": "authors"}
    auto = {p.id for p in attacker_plans(load_config("demo", ["controls.authors_shift=auto"]), "emo18")}
    assert "authors_shift" not in auto and "zero" in auto  # no generator uses the authors' alignment
    authors = load_config("demo", ["controls.authors_shift=auto", "attackers.staa_unet.generator.alignment=authors"])
    assert "authors_shift" in {p.id for p in attacker_plans(authors, "emo18")}
    off = load_config("demo", ["controls.authors_shift=false"])
    assert "authors_shift" not in {p.id for p in attacker_plans(off, "emo18")}


def test_the_authors_shift_is_a_wave_u_nets_even_when_every_generator_is_adjoint():
    """The shift is the Wave-U-Net's padding: with only adjoint generators (the demo without its U-Net
    rows) it is measured with the fast preset's, and never asked of an adjoint generator."""
    config = load_config(
        "demo", ["attackers.staa_unet=null", "attackers.staa_paper=null", "controls.authors_shift=true"]
    )
    plans = {p.id: p for p in attacker_plans(config, "emo18")}
    assert generator_config(plans["staa"]).architecture == "adjoint"
    assert plans["authors_shift"].generator == {"preset": "fast", "alignment": "authors"}
    assert generator_config(plans["authors_shift"]).architecture == "wave-u-net"


def test_eps_goes_straight_from_the_file_into_every_attack_and_adversarial_training():
    """The experiment's ε is on every plan, and every builder reads it from there."""
    config = load_config("demo", ["eps=0.02"])
    plans = {p.id: p for p in attacker_plans(config, "emo18")}
    assert {p.eps for p in plans.values()} == {0.02}
    model = build_model("emo18", num_classes=7, hidden=8)
    assert per_clip_attack(plans["pgd"], model).eps == 0.02
    assert per_clip_attack(plans["pgd"], model, targeted=True).targeted
    assert generator_config(plans["staa"]).eps == 0.02
    assert model_train_config(config, "emo18_at", seed=0).eps == 0.02  # adversarial training inherits it ...
    own = load_config("demo", ["eps=0.02", "models.emo18_at.adversarial.eps=0.1"])
    assert model_train_config(own, "emo18_at", seed=0).eps == 0.1  # ... unless the model names its own
    unset = load_config("demo")
    del unset["eps"]
    apply_defaults(unset)  # what reading a file without eps does
    assert attacker_plans(unset, "emo18")[0].eps == DEFAULT_EPS


def test_eps_db_goes_from_the_file_or_an_attacker_into_every_attack_and_generator():
    """A relative budget replaces the absolute one on every row; an attacker's own budget replaces the file's."""
    config = load_config("demo", ["eps=null", "eps_db=26", "attackers.pgd0.eps=0.02"])
    plans = {p.id: p for p in attacker_plans(config, "emo18")}
    assert plans["pgd0"].budget == {"eps": 0.02, "eps_db": None}
    assert {(p.eps, p.eps_db) for i, p in plans.items() if i != "pgd0"} == {(None, 26)}
    model = build_model("emo18", num_classes=7, hidden=8)
    attack = per_clip_attack(plans["pgd"], model)
    assert attack.eps is None and attack.eps_db == 26
    assert generator_config(plans["staa"]).eps_db == 26
    assert plans["staa-random_mask"].eps_db == 26  # the mask controls keep their generator's budget
    with pytest.raises(ConfigError, match="exactly one"):
        load_config("demo", ["eps_db=26"])  # the demo's eps: 0.05 as well
    with pytest.raises(ConfigError, match="attacker 'pgd'.*eps_db"):
        load_config("demo", ["attackers.pgd.eps_db=-1"])


def test_the_real_speech_experiments_travel_and_the_paper_ones_keep_their_eps():
    for name, budget in (
        ("emodb", {"eps": None, "eps_db": 26}),
        ("ravdess", {"eps": None, "eps_db": 26}),
        ("demos", {"eps": 0.05, "eps_db": None}),
        ("iemocap", {"eps": 0.01, "eps_db": None}),
    ):
        config = load_config(name, ["corpus.root=/data"])
        assert {tuple(p.budget.items()) for p in attacker_plans(config, config["threat_models"][0])} == {
            tuple(budget.items())
        }


def test_presets_and_their_defaults_are_the_config_classes_and_the_clis():
    budgeted = "{attack: staa, generator: {preset: fast, mask: threshold}, train: {preset: paper, budget: {sparsity_pct: 20, lr: 0.5}}}"
    config = load_config("demo", ["attackers.staa.generator={}", "attackers.staa.train={epochs: 2}",
                                  "attackers.staa_5.generator.preset=realtime", f"attackers.staa_budget={budgeted}"])  # fmt: skip
    plans = {p.id: p for p in attacker_plans(config, "emo18")}
    assert generator_config(plans["staa"]) == GeneratorConfig.preset(GENERATOR_PRESET, eps=0.05)
    assert generator_config(plans["staa_5"]) == GeneratorConfig.preset("realtime", eps=0.05, sparsity_pct=5)
    trainer, budget = train_config(plans["staa"], seed=3, target=None)
    assert trainer == STAATrainConfig.preset(TRAINING_PRESET, epochs=2, seed=3) and budget is None
    assert train_config(plans["staa_budget"], seed=0, target=None)[1] == {"sparsity_pct": 20, "lr": 0.5}
    with pytest.raises(
        ConfigError, match="attacker 'staa': generator.preset 'tiny' is not one of authors, fast, realtime"
    ):
        load_config("demo", ["attackers.staa.generator.preset=tiny"])


def test_ser_schedules_follow_the_paper_unless_the_file_sets_them():
    config = load_config("demo", ["models.zhao19.epochs=null", "models.zhao19.lr=null", "models.emo18.lr=2e-3"])
    assert (model_train_config(config, "zhao19", seed=0).epochs, model_train_config(config, "zhao19", seed=0).lr) == (
        30,
        1e-3,
    )
    assert model_train_config(config, "emo18", seed=0).lr == 2e-3  # 2e-3 without a dot is text in YAML: cast
    adversarial = model_train_config(config, "emo18_at", seed=0)
    assert adversarial.attack_options == {"steps": 2, "loss": "ce", "early_stop": False, "k_percent": 10}


def test_a_generators_training_speech_is_read_and_checked_from_the_experiment_file():
    from staa.data.speech import Source
    from staa.experiment.plans import plan_of, train_data

    config = load_config("demo", ['attackers.staa.train.data=[train, "nemo:/data/nemo", {folder: /data/podcasts}]'])
    plan = plan_of(config, "emo18", "staa")
    assert train_data(plan) == [
        Source("train"),
        Source("corpus", "/data/nemo", "nemo"),
        Source("folder", "/data/podcasts"),
    ]
    assert train_config(plan, 0, None)[0] == train_config(plan_of(load_config("demo"), "emo18", "staa"), 0, None)[0]
    assert train_data(plan_of(load_config("demo"), "emo18", "staa")) is None  # default: the corpus's training split
    for value, message in (("[{folder: f, splits: [train]}]", "unknown keys"), ("[]", "non-empty list"),
                           ("[{corpus: nosuch}]", "unknown corpus 'nosuch'"), ("podcasts", "non-empty list")):  # fmt: skip
        with pytest.raises(ConfigError, match=message) as err:
            load_config("demo", [f"attackers.staa.train.data={value}"])
        assert "attacker 'staa'" in str(err.value) and "\n" not in str(err.value)
