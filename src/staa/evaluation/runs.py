"""One evaluation into one output folder: what each ``staa attack``, ``staa generator apply`` and
``staa defense evaluate`` command calls, so that the command line only parses and prints.

* :func:`attack_split` — the first clips of a split attacked into ``records.json`` + ``x_adv.npy`` (the
  adversarial-set store, resumable) and one WAV per clip under ``wav/``.
* :func:`fit_universal_on_split` — a universal perturbation fitted on the first clips of a split (or
  reused) in ``perturbation.safetensors`` + ``fit.json``.
* :func:`apply_generator` — a trained generator on named batches (a split or a folder of any lengths):
  one WAV per clip and ``result.json``, summarised like every crafted set (:func:`crafted_summary`).
* :func:`targeted_success_run` — success per target class (``targeted.json``, ``targeted.md``).
* :func:`robustness_run` — robust accuracy of victims × defenses × attacks (``robustness.json``, ``.md``).
* :func:`sweep_run` — ASR versus sparsity of one attack over sample budgets on every victim
  (``curves.csv``, ``curves.png``, ``curves.json``; one adversarial set per budget).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from staa.attacks.base import Attack
from staa.attacks.staa import STAANet
from staa.attacks.staa.export import export_adversarial
from staa.attacks.universal import UniversalConfig, UniversalPerturbation, fitted_universal
from staa.audio import write_audio
from staa.data.cache import PreparedCorpus, Split
from staa.defenses.base import Defense
from staa.errors import ConfigError
from staa.evaluation.adversarial_set import AdversarialSet, craft_adversarial_set, crafted_summary, finite_or_none
from staa.evaluation.curves import CurvePoint, minimum_norm_set_curve, plot, set_points, write_csv
from staa.evaluation.robustness import AttackFactory, robust_accuracy, robustness_table
from staa.evaluation.tables import Table, targeted_success_table
from staa.evaluation.targeted import targeted_success_by_class
from staa.evaluation.transfer import evaluate_victim
from staa.models.base import SERModel
from staa.outputs import write_json, write_text
from staa.reproducibility import provenance


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
) -> AdversarialSet:
    """Attack the first ``limit`` clips of ``split`` into ``out`` (records.json, x_adv.npy, wav/*.wav).

    Chunks are the attack's batches; ``config`` (the caller's settings) joins the provenance.
    """
    data, n = first_clips(corpus, split, limit)
    settings = {"attack": attack.name, "corpus": corpus.name, "split": split, "eps": attack.eps, **config}
    adv = craft_adversarial_set(
        attack, data.waves, data.labels, np.arange(n), out, items=data.items, target=target,
        chunk_size=attack.batch_size or 8, seed=seed, perceptual=perceptual, sample_rate=corpus.sample_rate,
        meta={"classes": corpus.classes}, config=settings, show_progress=show_progress,
    )  # fmt: skip
    for row, wave in zip(adv.indices, adv.x_adv):
        write_audio(out / "wav" / f"{row:05d}.wav", np.asarray(wave), corpus.sample_rate)
    return adv


def fit_universal_on_split(
    model: SERModel,
    corpus: PreparedCorpus,
    split: str,
    out: Path,
    *,
    limit: int | None,
    eps: float,
    target: int | None,
    config: UniversalConfig,
    settings: dict[str, Any],
    record: dict[str, Any],
) -> UniversalPerturbation:
    """The universal perturbation in ``out``, or one fitted now on the first ``limit`` clips of ``split``.

    ``settings`` are the attack's options (``k_percent``, ``batch_size``); ``record`` (the caller's
    settings) joins the provenance in ``fit.json`` with the corpus, the split, the clip count and ``config``.
    """
    data, n = first_clips(corpus, split, limit)
    record = {**record, "corpus": corpus.name, "fit_split": split, "n": n, "eps": eps, "target": target, **vars(config)}
    return fitted_universal(model, out, lambda: torch.from_numpy(np.array(data.waves[:n], dtype=np.float32)),
                            eps=eps, target=target, config=config, settings=settings, record=record)  # fmt: skip


def apply_generator(
    attack: STAANet,
    batches: Iterable[tuple[list[str], Tensor]],
    out: Path,
    *,
    target: int | None,
    total: int | None,
    source: dict[str, Any],
    show_progress: bool = False,
) -> dict[str, Any]:
    """Adversarial WAVs of every batch under ``out`` and ``result.json``: per-clip records and the summary.

    Per clip: name, samples, predictions, success, ``snr_db`` (null when not finite) and ``sparsity_pct``;
    the summary is :func:`crafted_summary`'s, the format of every crafted set. ``source`` (generator,
    model, input) joins the provenance.
    """
    exported = export_adversarial(attack, batches, out, target=target, total=total, show_progress=show_progress)
    raw = exported["examples"]
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
    record = {"summary": summary, "examples": examples,
              "provenance": provenance({**source, "eps": attack.eps, "target_class": target})}  # fmt: skip
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
) -> Table:
    """Targeted success per class of ``factory``'s attack on the first clips of ``split``; its table.

    Writes ``targeted.json`` (``settings``, the per-target record and provenance) and ``targeted.md``.
    """
    data, n = first_clips(corpus, split, limit)
    x = torch.from_numpy(np.array(data.waves[:n], dtype=np.float32)).to(device)
    result = targeted_success_by_class(factory, model, x, batch_size=batch_size)
    settings = {**settings, "corpus": corpus.name, "split": split, "n": n}
    write_json(out / "targeted.json", {**settings, **result, "provenance": provenance(settings, seed)})
    table = targeted_success_table(result, f"Targeted success of {result['attack']} per target class "
                                           f"({corpus.name}, {split}, {n} clips)")  # fmt: skip
    write_text(out / "targeted.md", table.markdown())
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
) -> Table:
    """Robust accuracy of every victim × defense × attack on the first clips of ``split``; its table.

    Writes ``robustness.json`` (:func:`~staa.evaluation.robustness.robust_accuracy`'s record) and ``robustness.md``.
    """
    data, n = first_clips(corpus, split, limit)
    x = torch.from_numpy(data.waves[:n].copy()).to(device)
    y = torch.from_numpy(data.labels[:n].copy()).to(device)
    result = robust_accuracy(victims, defenses, attacks, x, y, adaptive=adaptive, eot_samples=eot_samples, seed=seed)
    result["corpus"], result["split"] = corpus.name, split
    write_json(out / "robustness.json", result)
    table = robustness_table(result)
    write_text(out / "robustness.md", table.markdown())
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

    def crafted(attack: Attack, folder: str) -> tuple[AdversarialSet, dict[str, dict[str, Any]]]:
        adv = craft_adversarial_set(
            attack, data.waves, data.labels, np.arange(n), out / folder, items=data.items, chunk_size=attack.batch_size or 8,
            seed=seed, perceptual=False, sample_rate=corpus.sample_rate, meta={"classes": corpus.classes},
            config={**config, "k_percent": getattr(attack, "k_percent", None)}, show_progress=show_progress,
        )  # fmt: skip
        replays = {v: evaluate_victim(adv, data.waves, model, v, key=key, device=device) for v, (model, key) in victims.items()}
        return adv, replays

    if minimum_norm:
        points = minimum_norm_set_curve(*crafted(make_attack(None), "minimum-norm"), budgets, attacker=attacker)
    else:
        points = [p for b in sorted(budgets) for p in set_points(*crafted(make_attack(b), f"k{b:g}"), attacker=attacker, budget=b)]
    write_csv(points, out / "curves.csv")
    plot(points, out / "curves.png", title=f"{attacker} on {corpus.name}, {split} split ({n} clips)")
    record = {**config, "corpus": corpus.name, "split": split, "n": n, "budgets": sorted(budgets), "minimum_norm": minimum_norm}
    write_json(out / "curves.json", {**record, "points": [asdict(p) for p in points], "provenance": provenance(record, seed)})
    return points
