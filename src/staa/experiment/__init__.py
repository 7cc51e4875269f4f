"""One-command experiments: a YAML file → prepare → SER models → generators → attacks → transfer → report.

``run_experiment(load_config("demo"), "runs/demo")`` (or ``staa run demo --out runs/demo``) performs every
step of the paper's evaluation and writes, under the output folder::

    experiment.yaml                      the resolved configuration (after --set overrides)
    cache/                               the prepared corpus (unless ``corpus.cache`` points elsewhere)
    pretrain/<model>/                    a model's pooled pre-training (pooled.csv, cache/, pretrain/best/)
    models/<model>/                      SER checkpoint (best/), training log, eval.json (per split)
    generators/<threat>/<attacker>/      trained STAA-Net generators (best/, train.json) and fitted
                                         universal perturbations (perturbation.safetensors, fit.json)
    adversarial/<threat>/<attacker>/<split>/   crafted audio, per-example records, per-victim results
    adversarial/<threat>/<attacker>/sweep/k<budget>/<split>/   the same, per budget of a swept attacker
    robustness/<victim>/<defense>/<attacker>/<split>/   adaptive attacks crafted through a defense
    targeted/<threat>/<attacker>/<split>/<class>/       targeted attacks, one set per target class
    seeds/<seed>/generators/…, seeds/<seed>/adversarial/…   the attack step repeated under attack_seeds
    cross_corpus/cache/                  the other corpora of ``cross_corpus``, prepared
    results.json  tables/  figures/  audio/  report.html

Every step first looks for its outputs and skips the work when they exist; every output is written
atomically, and long steps (SER training, generator training, crafting) resume from their last finished
epoch or chunk, so a killed run started again ends with the same numbers (timings aside). Each step
folder holds a ``spec.json`` with the settings that made it: rerunning with other settings into the same
folder is refused rather than silently mixing results.

Configuration (see the shipped ``staa/configs/*.yaml``; every key can be overridden with
``--set dotted.key=value``, the value parsed as YAML)::

    base: <built-in name> | <file>     start from another experiment (a built-in, or a file beside this one)
                                       and change only the keys this file names: mappings merge key by key,
                                       anything else replaces (config._resolve); the output's experiment.yaml
                                       holds the merged result
    name, seed, device, eps | eps_db, splits, max_examples
                                       defaults (config.DEFAULTS, filled in when the file is read): seed 0,
                                       device cpu, eps staa.defaults.DEFAULT_EPS, splits [val, test],
                                       max_examples null (every clip), threads null
    eps: 0.05 | eps_db: 26             the L∞ budget: absolute, or dB under each clip's peak (docs/budgets.md)
    threads                            CPU threads of the run (default: the process's; `staa` sets them
                                       from --threads, OMP_NUM_THREADS or staa.defaults.DEFAULT_THREADS)
    attack_seeds: [<seed>, ...]        repeat the randomised attackers under these seeds too: mean ± sd
                                       per row (sections/seeds.py, outputs under seeds/<seed>/)
    corpus: {name, root, seconds, cache (a folder inside the output folder), options}
    models: {<id>: {arch, label, recipe, recipe_settings, epochs, lr, batch_size, options, adversarial}}
        recipe: paper (default) | small_corpus    the SER training recipe (TrainConfig.preset);
                     recipe_settings changes some of its fields (patience, augment: {mix_prob: 0}, ...)
        adversarial: {from: <model id>, attack, eps, settings, adv_fraction}   adversarial training
                     (fine-tunes the trained model ``from``; without it, trains from scratch)
        pretrain: {corpora: {<name>: <folder>}, epochs, seconds}   pre-train on the corpus (training
                     speakers only) pooled with these, under pretrain/<id>/, then train from those weights
                     (staa.training.pretrain)
    threat_models: [<id>, ...]         victims: [<id>, ...]
    attackers: {<id>: {attack, label, eps | eps_db, settings, target, generator, train, fit}}
        generator/train: STAA-Net (preset: adjoint | authors | fast | realtime, default adjoint; topk | paper |
                     authors, default topk); train.budget: {k_percent | snr_db, update, lr, damping}
                     (λ adapted during training, sections/budgets.py)
        fit: the universal perturbation's optimisation (staa.attacks.universal.UniversalConfig)
        sweep: {k_percent: [1, 2, 5, 10, 20]}   craft a budgeted attacker (pgd, pgd0, sparse_rs, universal)
                     again at each budget on the last split: the ``curves`` section, tables/curves.*,
                     figures/curves-<threat>.png (sections/curves.py); σ-zero / FMN give their curve from
                     the attack table's run, every other attacker (STAA-Net's generators) is a point
    ablations: {<id>: {of: <attacker id>, label, generator, train}}          (Table 6 variants)
    threat_overrides: {<threat>: {<attacker or ablation id>: {settings, generator, train}}}
    controls: {authors_shift: auto | true | false, random_mask: true | false, comb_mask: true | false}
    defenses: {pipelines: {<id>: "median:kernel=5+quantize:bits=8"}, victims, attackers, adaptive,
               eot_samples, split}       robust accuracy of defended victims (sections/robustness.py)
    targeted: {attackers, classes: all | [<class>, ...], split}   success per target class
                                         (sections/targeted.py)
    cross_corpus: {corpora: {<name>: <folder>}, split, models}   every SER model on other corpora's clips
                                         of the classes both name (sections/cross_corpus.py)
    report: {examples, perceptual, chunk_size}        defaults 1, true, 8 (config.REPORT_DEFAULTS)

The package, read top down (each module imports only those below it; none imports the runner)::

    config.py     load_config: YAML + --set overrides, validated up front
    runner.py     run_experiment: the order of the steps
    sections/     budgets.py, cross_corpus.py, curves.py, robustness.py, seeds.py, targeted.py: the parts of results.json beyond the
                  paper's tables (curves.py builds its swept attacks with steps.build_attack_for)
    steps.py      corpus → SER models → per attacker: generator / universal fit / attack → craft → replay
    results.py    results.json, tables, figures, listening files, report.html
    context.py    ExperimentContext: config, output folder, corpus, models; claimed folders; craft_or_reuse
    plans.py      AttackerPlan (ε included) and the settings every attack and model is built from
"""

from staa.experiment.config import load_config
from staa.experiment.runner import run_experiment

__all__ = ["load_config", "run_experiment"]
