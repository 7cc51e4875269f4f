"""One evaluation into one output folder: what each ``staa attack``, ``staa generator apply`` and
``staa defense evaluate`` command calls, so that the command line only parses and prints.

* :func:`attack_split` — the first clips of a split attacked into ``records.json`` + ``x_adv.npy`` (the
  adversarial-set store, resumable) and one WAV per clip under ``wav/``.
* :func:`universal_run` — a universal perturbation fitted on the first clips of a split (or reused) in
  ``perturbation.safetensors`` + ``fit.json``, then a split attacked with it as :func:`attack_split` does.
* :func:`apply_generator` — a trained generator on named batches (a split or a folder of any lengths):
  one WAV per clip under ``wav/`` and ``result.json``, summarised like every crafted set (:func:`crafted_summary`).
* :func:`targeted_success_run` — success per target class (``targeted.json``, ``targeted.md``).
* :func:`robustness_run` — robust accuracy of victims × defenses × attacks (``robustness.json``, ``.md``).
* :func:`sweep_run` — ASR versus sparsity of one attack over sample budgets on every victim
  (``curves.csv``, ``curves.png``, ``curves.json``; one adversarial set per budget).

Each claims its output folder first (:func:`~staa.io.outputs.claim_folder`): the settings that make its
outputs — the weights' fingerprints rather than their paths — are recorded in ``spec.json``, and a rerun
with other settings is refused, naming what changed, unless ``overwrite`` starts it over. A resumed
attack therefore never mixes clips crafted under two budgets, and a finished folder never answers for
settings it was not made with.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from staa.attacks.base import Attack
from staa.attacks.budget import budget_claim
from staa.attacks.staa import STAANet
from staa.attacks.staa.export import WAV_DIR, export_adversarial
from staa.attacks.universal import FIT_FILE, PERTURBATION_FILE, UniversalConfig, UniversalPerturbation, fitted_universal
from staa.audio import write_audio
from staa.data.cache import PreparedCorpus, Split
from staa.defenses.base import Defense
from staa.errors import ConfigError
from staa.evaluation.adversarial_set import (
    ADV_FILE,
    RECORDS_FILE,
    AdversarialSet,
    craft_adversarial_set,
    crafted_summary,
    file_fingerprint,
    finite_or_none,
)
from staa.evaluation.curves import CurvePoint, minimum_norm_set_curve, plot, set_points, write_csv
from staa.evaluation.robustness import AttackFactory, robust_accuracy, robustness_table
from staa.evaluation.tables import Table, targeted_success_table
from staa.evaluation.targeted import targeted_success_by_class
from staa.evaluation.transfer import evaluate_victim
from staa.io.outputs import claimed, write_json, write_text
from staa.io.weights import fingerprint
from staa.models.base import SERModel
from staa.runtime.reproducibility import provenance

#: What each run writes into its folder: deleted by ``overwrite``, and outputs of unknown settings without spec.json.
ATTACK_OUTPUTS = (RECORDS_FILE, ADV_FILE, "parts", WAV_DIR, "victims")
UNIVERSAL_OUTPUTS = (*ATTACK_OUTPUTS, PERTURBATION_FILE, FIT_FILE)
APPLY_OUTPUTS = ("result.json", WAV_DIR)
PATH_SETTINGS = ("model", "perturbation")  # recorded by content (a fingerprint), not by where they are


def first_clips(corpus: PreparedCorpus, split: str, limit: int | None) -> tuple[Split, int]:
    """A split and how many of its clips a run works on (all, or the first ``limit``); never none."""
    data = corpus.split(split)
    n = len(data) if limit is None else min(limit, len(data))
    if n == 0:
        raise ConfigError(f"split '{split}' of {corpus.name} is empty")
    return data, n


def attack_split(
    attack: Attack,
    corpus: PreparedCorpus,
    split: str,
    out: Path,
    *,
    limit: int | None,
    target: int | None,
    seed: int,
    perceptual: bool,
    config: dict[str, Any],
    show_progress: bool = False,
    overwrite: bool = False,
) -> AdversarialSet:
    """Attack the first ``limit`` clips of ``split`` into ``out`` (records.json, x_adv.npy, wav/*.wav).

    Chunks are the attack's batches; ``config`` (the caller's settings) joins the provenance and, with
    the weights' fingerprint instead of paths, the claim on ``out``.
    """
    data, n = first_clips(corpus, split, limit)
    spec = _spec(attack.name, _budget(attack), attack.model, corpus, split, n, target, seed, perceptual)
    spec = {**spec, "batch_size": attack.batch_size, "options": settings_identity(config)}
    with claimed(out, spec, outputs=ATTACK_OUTPUTS, overwrite=overwrite):
        return _craft(attack, corpus, data, n, split, out, target, seed, perceptual, config, show_progress)


def _budget(attack: Attack) -> dict[str, float | None]:
    """The attack's L∞ budget as claims record it (``eps``; ``eps_db`` when relative)."""
    return budget_claim({"eps": attack.eps, "eps_db": attack.eps_db})


def _spec(name: str, budget: dict[str, float | None], model: Any, corpus: PreparedCorpus, split: str, n: int,
          target: int | None, seed: int, perceptual: bool) -> dict[str, Any]:  # fmt: skip
    """What makes an attacked split: the attack, its budget, the model's weights, the clips, the target and the seed."""
    return {"attack": name, **budget, "model": fingerprint(model), "corpus": corpus.path.name, "split": split, "n": n,
            "target": target, "seed": seed, "perceptual": perceptual}  # fmt: skip


def settings_identity(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with files recorded by content: a moved checkpoint is the same, a retrained one is not.

    ``perturbation`` and ``generator`` name a file or a folder holding ``model.safetensors`` or
    ``perturbation.safetensors``; ``model`` is left out (the claim records the weights' fingerprint).
    """
    return {k: (_content(v) if k in ("perturbation", "generator") and v is not None else v)
            for k, v in config.items() if k != "model"}  # fmt: skip


def _content(path: str | Path) -> str:
    """The fingerprint of a saved state (a file, or the weights file of a folder), else its path."""
    for candidate in (Path(path), Path(path) / "model.safetensors", Path(path) / PERTURBATION_FILE):
        if candidate.is_file():
            return file_fingerprint(candidate)
    return str(path)


def _craft(attack: Attack, corpus: PreparedCorpus, data: Split, n: int, split: str, out: Path, target: int | None,
           seed: int, perceptual: bool, config: dict[str, Any], show_progress: bool) -> AdversarialSet:  # fmt: skip
    """Craft (or resume) the adversarial set of the first ``n`` rows of ``data`` and write one WAV per clip."""
    settings = {"attack": attack.name, "corpus": corpus.name, "split": split, **_budget(attack), **config}
    adv = craft_adversarial_set(
        attack, data.waves, data.labels, np.arange(n), out, items=data.items, target=target,
        chunk_size=attack.batch_size or 8, seed=seed, perceptual=perceptual, sample_rate=corpus.sample_rate,
        meta={"classes": corpus.classes}, config=settings, show_progress=show_progress,
    )  # fmt: skip
    for row, wave in zip(adv.indices, adv.x_adv):
        write_audio(out / WAV_DIR / f"{row:05d}.wav", np.asarray(wave), corpus.sample_rate)
    return adv


def universal_run(
    model: SERModel,
    corpus: PreparedCorpus,
    out: Path,
    *,
    fit_split: str,
    fit_limit: int | None,
    split: str,
    limit: int | None,
    eps: float,
    target: int | None,
    config: UniversalConfig,
    settings: dict[str, Any],
    seed: int,
    perceptual: bool,
    record: dict[str, Any],
    show_progress: bool = False,
    overwrite: bool = False,
) -> AdversarialSet:
    """Fit a universal perturbation on the first ``fit_limit`` clips of ``fit_split`` (or reuse the one in
    ``out``), then attack the first ``limit`` clips of ``split`` with it into ``out``.

    ``settings`` are the attack's options (``k_percent``, ``batch_size``); ``record`` (the caller's
    settings) joins the provenance in ``fit.json`` and ``records.json``. Fit and attack claim ``out``
    together, so a changed fit setting cannot reuse a perturbation fitted under the old one.
    """
    fit_data, fit_n = first_clips(corpus, fit_split, fit_limit)
    data, n = first_clips(corpus, split, limit)
    fit = {"fit_split": fit_split, "fit_n": fit_n, **vars(config), **settings}
    spec = _spec(UniversalPerturbation.name, {"eps": eps}, model, corpus, split, n, target, seed, perceptual)
    fit_record = {**record, "corpus": corpus.name, "n": fit_n, "eps": eps, "target": target, **fit}
    with claimed(out, {**spec, "fit": fit}, outputs=UNIVERSAL_OUTPUTS, overwrite=overwrite):
        attack = fitted_universal(model, out, lambda: torch.from_numpy(np.array(fit_data.waves[:fit_n], dtype=np.float32)),
                                  eps=eps, target=target, config=config, settings=settings, record=fit_record)  # fmt: skip
        config_record = {**record, "perturbation": str(out / PERTURBATION_FILE), "fit_split": fit_split,
                         "k_percent": attack.k_percent}  # fmt: skip
        return _craft(attack, corpus, data, n, split, out, target, seed, perceptual, config_record, show_progress)


def apply_generator(
    attack: STAANet,
    batches: Iterable[tuple[list[str], Tensor]],
    out: Path,
    *,
    target: int | None,
    total: int | None,
    source: dict[str, Any],
    inputs: list[str],
    show_progress: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Adversarial WAVs of every batch under ``out/wav`` and ``result.json``: per-clip records and the summary.

    Per clip: name, samples, predictions, success, ``snr_db`` (null when not finite) and ``sparsity_pct``;
    the summary is :func:`crafted_summary`'s, the format of every crafted set. ``source`` (generator,
    model, input) joins the provenance; ``inputs`` (the clips' names) and the weights identify the claim.
    """
    names = hashlib.sha256("\n".join(inputs).encode("utf-8")).hexdigest()[:16]
    spec = {
        "generator": fingerprint(attack.generator),
        "model": fingerprint(attack.model),
        **_budget(attack),
        "target": target,
        "source": source.get("source"),
        "inputs": {"n": len(inputs), "names": names},
    }
    with claimed(out, spec, outputs=APPLY_OUTPUTS, overwrite=overwrite):
        raw = export_adversarial(attack, batches, out, target=target, total=total, show_progress=show_progress)
        return _write_result(attack, raw, out, target, source)


def _write_result(attack: STAANet, raw: list[dict[str, Any]], out: Path, target: int | None,
                  source: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """``result.json`` of :func:`apply_generator`: the per-clip records and their summary."""
    summary = crafted_summary(
        torch.tensor([e["success"] for e in raw], dtype=torch.bool),
        torch.tensor([e["snr_db"] for e in raw], dtype=torch.float64),
        torch.tensor([e["sparsity"] for e in raw], dtype=torch.float64),
        seconds=sum(e["seconds"] for e in raw),
    )  # fmt: skip
    examples = [
        {"name": e["name"], "samples": e["samples"], "clean_pred": e["clean_pred"], "adv_pred": e["adv_pred"],
         "success": e["success"], "snr_db": finite_or_none(e["snr_db"]), "sparsity_pct": e["sparsity"],
         "seconds": e["seconds"]}
        for e in raw
    ]  # fmt: skip
    record = {"summary": summary, "examples": examples, "wav_format": "16 kHz mono 32-bit float",
              "provenance": provenance({**source, **_budget(attack), "target_class": target})}  # fmt: skip
    write_json(out / "result.json", record)
    return record


def targeted_success_run(
    factory: AttackFactory,
    model: SERModel,
    corpus: PreparedCorpus,
    split: str,
    out: Path,
    *,
    limit: int | None,
    batch_size: int,
    settings: dict[str, Any],
    seed: int,
    device: str = "cpu",
    overwrite: bool = False,
) -> Table:
    """Targeted success per class of ``factory``'s attack on the first clips of ``split``; its table.

    Writes ``targeted.json`` (``settings``, the per-target record and provenance) and ``targeted.md``.
    """
    data, n = first_clips(corpus, split, limit)
    spec = {
        **settings_identity(settings),
        "model": fingerprint(model),
        "corpus": corpus.path.name,
        "split": split,
        "n": n,
        "batch_size": batch_size,
        "seed": seed,
    }
    with claimed(out, spec, outputs=("targeted.json", "targeted.md"), overwrite=overwrite):
        x = torch.from_numpy(np.array(data.waves[:n], dtype=np.float32)).to(device)
        result = targeted_success_by_class(factory, model, x, batch_size=batch_size)
        settings = {**settings, "corpus": corpus.name, "split": split, "n": n}
        table = targeted_success_table(result, f"Targeted success of {result['attack']} per target class "
                                               f"({corpus.name}, {split}, {n} clips)")  # fmt: skip
        write_text(out / "targeted.md", table.markdown())
        write_json(out / "targeted.json", {**settings, **result, "provenance": provenance(settings, seed)})
    return table


def robustness_run(
    victims: Mapping[str, SERModel],
    defenses: Mapping[str, Sequence[Defense]],
    attacks: Mapping[str, AttackFactory],
    corpus: PreparedCorpus,
    split: str,
    out: Path,
    *,
    limit: int | None,
    adaptive: bool,
    eot_samples: int,
    seed: int,
    device: str = "cpu",
    overwrite: bool = False,
) -> Table:
    """Robust accuracy of every victim × defense × attack on the first clips of ``split``; its table.

    Writes ``robustness.json`` (:func:`~staa.evaluation.robustness.robust_accuracy`'s record) and ``robustness.md``.
    """
    data, n = first_clips(corpus, split, limit)
    spec = {
        "victims": {k: fingerprint(v) for k, v in victims.items()},
        "attacks": sorted(attacks),
        "defenses": {k: [d.to_dict() for d in v] for k, v in defenses.items()},
        "corpus": corpus.path.name,
        "split": split,
        "n": n,
        "adaptive": adaptive,
        "eot_samples": eot_samples,
        "seed": seed,
    }
    with claimed(out, spec, outputs=("robustness.json", "robustness.md"), overwrite=overwrite):
        x = torch.from_numpy(data.waves[:n].copy()).to(device)
        y = torch.from_numpy(data.labels[:n].copy()).to(device)
        result = robust_accuracy(
            victims, defenses, attacks, x, y, adaptive=adaptive, eot_samples=eot_samples, seed=seed
        )
        result["corpus"], result["split"] = corpus.name, split
        table = robustness_table(result)
        write_text(out / "robustness.md", table.markdown())
        write_json(out / "robustness.json", result)
    return table


def sweep_run(
    make_attack: Callable[[float | None], Attack],
    budgets: Sequence[float],
    victims: Mapping[str, tuple[SERModel, str]],
    corpus: PreparedCorpus,
    split: str,
    out: Path,
    *,
    attacker: str,
    minimum_norm: bool,
    limit: int | None,
    seed: int,
    config: dict[str, Any],
    device: str = "cpu",
    show_progress: bool = False,
    overwrite: bool = False,
) -> list[CurvePoint]:
    """ASR versus sparsity of one attack on the first ``limit`` clips of ``split``, on every victim.

    A budgeted attack is crafted once per budget, ``make_attack(k_percent)``, into ``out/k<budget>/``;
    a minimum-norm attack once, ``make_attack(None)``, into ``out/minimum-norm/`` and read at every
    budget (:func:`~staa.evaluation.curves.minimum_norm_set_curve`). Each is an adversarial set
    (resumable; a finished budget is reused) replayed on every victim (``victims``: name → (model, key
    identifying its weights); results cached in the set's ``victims/``). ``attacker`` names the attack
    in the points and the figure. Writes ``curves.csv``, ``curves.png`` and ``curves.json`` (``config``,
    the clips, every point and the provenance).
    """
    data, n = first_clips(corpus, split, limit)
    earlier = [p.name for p in out.glob("k*") if p.is_dir() and re.fullmatch(r"k[0-9.e+-]+", p.name)]
    folders = {"minimum-norm", *(f"k{b:g}" for b in budgets), *earlier}  # --overwrite removes every budget's set
    spec = {"attacker": attacker, "victims": {v: key for v, (_, key) in victims.items()}, "corpus": corpus.path.name,
            "split": split, "n": n, "budgets": sorted(budgets), "minimum_norm": minimum_norm, "seed": seed,
            "options": settings_identity(config)}  # fmt: skip
    with claimed(out, spec, outputs=("curves.csv", "curves.png", "curves.json", *sorted(folders)), overwrite=overwrite):
        return _sweep(make_attack, budgets, victims, corpus, data, n, split, out, attacker, minimum_norm, seed, config,
                      device, show_progress)  # fmt: skip


def _sweep(make_attack: Callable[[float | None], Attack], budgets: Sequence[float],
           victims: Mapping[str, tuple[SERModel, str]], corpus: PreparedCorpus, data: Split, n: int, split: str,
           out: Path, attacker: str, minimum_norm: bool, seed: int, config: dict[str, Any], device: str,
           show_progress: bool) -> list[CurvePoint]:  # fmt: skip
    """The body of :func:`sweep_run` inside its claimed folder."""

    def crafted(attack: Attack, folder: str) -> tuple[AdversarialSet, dict[str, dict[str, Any]]]:
        adv = craft_adversarial_set(
            attack, data.waves, data.labels, np.arange(n), out / folder, items=data.items, chunk_size=attack.batch_size or 8,
            seed=seed, perceptual=False, sample_rate=corpus.sample_rate, meta={"classes": corpus.classes},
            config={**config, "k_percent": getattr(attack, "k_percent", None)}, show_progress=show_progress,
        )  # fmt: skip
        replays = {
            v: evaluate_victim(adv, data.waves, model, v, key=key, device=device) for v, (model, key) in victims.items()
        }
        return adv, replays

    if minimum_norm:
        points = minimum_norm_set_curve(*crafted(make_attack(None), "minimum-norm"), budgets, attacker=attacker)
    else:
        points = [
            p
            for b in sorted(budgets)
            for p in set_points(*crafted(make_attack(b), f"k{b:g}"), attacker=attacker, budget=b)
        ]
    write_csv(points, out / "curves.csv")
    plot(points, out / "curves.png", title=f"{attacker} on {corpus.name}, {split} split ({n} clips)")
    record = {
        **config,
        "corpus": corpus.name,
        "split": split,
        "n": n,
        "budgets": sorted(budgets),
        "minimum_norm": minimum_norm,
    }
    write_json(
        out / "curves.json", {**record, "points": [asdict(p) for p in points], "provenance": provenance(record, seed)}
    )
    return points
