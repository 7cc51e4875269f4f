"""Training a STAA-Net generator, with or without a budget: the one path of the CLI and of experiments.

:func:`~staa.attacks.staa.trainer.train_generator` is the training loop itself. This module is what
``staa generator train`` and an experiment's STAA-Net attacker both do around it: build a fresh
generator whose initial weights are fixed by the training seed, turn a budget (a sparsity ceiling in %
of the samples, an SNR floor in dB, and the controller's options) into the dual-ascent callbacks of
:mod:`staa.attacks.staa.budget`, and record in ``train.json`` what each budget asked for next to the
per-epoch weights the trainer wrote. It also claims the output folder (``spec.json``: the generator and
training configs, the budgets, the threat models' weights and the corpus), so that a resumed or repeated
run with other settings is refused instead of continuing another training, and a finished one is reused.
Unlike SER training, a generator's run cannot be continued to more steps: its learning-rate schedule,
density annealing and validation points are laid out over the whole run. ``train.json`` records the
training speed in clips per second at every validation and on average, as SER training reports it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from staa.attacks.staa import Generator, GeneratorConfig, STAATrainConfig, train_generator
from staa.attacks.staa.budget import DualController, SNRBudget, SparsityBudget
from staa.attacks.staa.distil import distil
from staa.data.cache import PreparedCorpus
from staa.defaults import DISTIL_STEPS
from staa.errors import ConfigError
from staa.io.outputs import claimed, write_json
from staa.io.weights import WEIGHTS_NAME, fingerprint, load_weights
from staa.models.base import SERModel
from staa.runtime import distributed as ddp
from staa.runtime.reproducibility import seed_everything
from staa.validation import check_fields

OUTPUTS = ("best", "last", "state.pt", "train.json", "distilled")  # what the trainer writes into its folder
#: Training settings added after generators were first trained: claimed only when set (not None), so that every
#: folder trained before one was added keeps its claim and is reused.
ADDED_LATER = ("val_examples", "focus")

BUDGETS = ("k_percent", "snr_db")  # an upper bound on sparsity (λ_s adapts), a lower bound on SNR (λ_m)
BUDGET_OPTIONS = ("update", "lr", "damping", "max_factor")  # the controllers' settings
RENAMED_BUDGETS = {"sparsity_pct": "k_percent"}  # earlier names, still read from experiment files


def budget_spec(spec: Any) -> Any:
    """A ``train.budget`` mapping with earlier names (:data:`RENAMED_BUDGETS`) under their current ones."""
    if not isinstance(spec, dict):
        return spec
    return {RENAMED_BUDGETS.get(k, k): v for k, v in spec.items()}


def budget_controllers(
    train_config: STAATrainConfig, k_percent: float | None = None, snr_db: float | None = None, **options: Any
) -> list[DualController]:
    """The ``train_generator`` callbacks that hold the given budgets (none without one), checked up front.

    A budget adapts λ_s (sparsity) or λ_m (SNR), so it cannot be combined with that term's ablation in
    ``train_config``; ``options`` are the controllers' (``update``, ``lr``, ``damping``, ``max_factor``).
    """
    k_percent = options.pop("sparsity_pct", k_percent)  # the earlier name
    unknown = sorted(set(options) - set(BUDGET_OPTIONS))
    if unknown:
        raise ConfigError(f"budget: unknown options {unknown} (known: {', '.join(BUDGET_OPTIONS)})")
    if (k_percent is not None and train_config.no_sparsity) or (snr_db is not None and train_config.no_magnitude):
        raise ConfigError("a budget adapts λ_s (sparsity) or λ_m (SNR): it cannot be combined with its term's ablation")
    controllers: list[DualController] = []
    if k_percent is not None:
        controllers.append(SparsityBudget(float(k_percent), **options))
    if snr_db is not None:
        controllers.append(SNRBudget(float(snr_db), **options))
    return controllers


def check_train_config(config: STAATrainConfig) -> STAATrainConfig:
    """``config`` if every field has its type and every number is finite (a NaN κ or λ trained silently)."""
    check_fields(STAATrainConfig, asdict(config), "generator training")
    return config


def budget_record(budget: DualController) -> dict[str, Any]:
    """What a budget asked for: the weight it adapts, the measurement, the target and the update rule."""
    target = budget.target_pct if isinstance(budget, SparsityBudget) else budget.target_db  # type: ignore[attr-defined]
    return {
        "weight": budget.weight,
        "metric": budget.metric,
        "target": target,
        "update": budget.update,
        "lr": budget.lr,
    }


def train_staa_generator(
    generator_config: GeneratorConfig,
    train_config: STAATrainConfig,
    threat_models: Sequence[SERModel],
    corpus: PreparedCorpus,
    out_dir: str | Path,
    *,
    budgets: Sequence[DualController] = (),
    device: str | torch.device = "cpu",
    show_progress: bool = True,
    overwrite: bool = False,
    teacher: str | Path | None = None,
    distil_steps: int = DISTIL_STEPS,
) -> dict[str, Any]:
    """Train a fresh generator of ``generator_config`` under ``budgets`` (:func:`budget_controllers`) against
    ``threat_models``; resumes from ``out_dir``; returns the training record (``train.json``).

    ``overwrite`` starts the folder over; a finished folder with the same settings is returned as it is.
    With ``teacher`` (a trained adjoint generator's folder, against the same threat) the fresh generator's
    context is first distilled from it for ``distil_steps`` (:mod:`staa.attacks.staa.distil`; kept in
    ``distilled/``, so a resumed run does not distil again), then trained as any generator.
    """
    out = Path(out_dir)
    check_train_config(train_config)
    for model in threat_models:
        model.check_fits(corpus.classes, corpus.sample_rate, length=corpus.length)
    train = {k: v for k, v in asdict(train_config).items() if not (k in ADDED_LATER and v is None)}
    spec = {"generator": generator_config.to_dict(), "train": train,
            "budgets": [budget_record(b) for b in budgets], "corpus": corpus.path.name,
            "threat_models": [fingerprint(m) for m in threat_models]}  # fmt: skip
    if teacher is not None:  # recorded only when used: folders trained without one keep their claims
        spec["distil"] = {"teacher": str(teacher), "steps": distil_steps}
    with claimed(out, spec, outputs=OUTPUTS, overwrite=overwrite, write=ddp.is_main()):
        if (out / "train.json").exists():  # written last: finished with these very settings
            return json.loads((out / "train.json").read_text())
        seed_everything(train_config.seed)  # the same initial weights whatever ran before (a resumed run, other steps)
        generator = Generator.for_config(generator_config, threat_models)
        if teacher is not None:
            distilled_start(generator, Path(teacher), corpus, out, distil_steps, train_config.seed, device)
        result = train_generator(generator, threat_models, corpus, out, train_config,
                                 device=device, show_progress=show_progress, callbacks=budgets)  # fmt: skip
        if budgets:  # the trainer's train.json has the per-epoch weights; add what was asked for
            result = {**result, "budgets": [budget_record(b) for b in budgets]}
        if ddp.is_main():
            write_json(out / "train.json", result)
        return result


def distilled_start(
    generator: Generator, teacher: Path, corpus: PreparedCorpus, out: Path, steps: int, seed: int,
    device: str | torch.device,
) -> None:  # fmt: skip
    """Distil ``generator``'s context from the adjoint generator in ``teacher`` (once: ``out/distilled``
    holds the result and its history, which a resumed run loads instead)."""
    folder = out / "distilled"
    if (folder / WEIGHTS_NAME).exists():
        load_weights(generator, folder / WEIGHTS_NAME)
        return
    if not (teacher / WEIGHTS_NAME).exists():
        raise ConfigError(f"distillation: teacher {teacher} is no generator folder (no {WEIGHTS_NAME})")
    history = distil(generator, Generator.from_pretrained(teacher), corpus, steps, seed=seed, device=device,
                     where=str(teacher))  # fmt: skip
    if ddp.is_main():
        generator.save_pretrained(folder)
        write_json(folder / "distil.json", {"teacher": str(teacher), "steps": steps, "history": history})
