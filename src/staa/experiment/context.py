"""What every step and section of an experiment shares: :class:`ExperimentContext`.

The context holds the configuration, the output folder, the prepared corpus and the trained models
(with a fingerprint of each model's weights, the identity its cached results are stored under). Every
step's folder is *claimed* for the settings that made it (:func:`staa.io.outputs.claim_folder`: ``spec.json``;
other settings into the same folder are refused rather than mixed, or start over with ``overwrite``),
and an adversarial set is crafted once and then reused (:meth:`ExperimentContext.craft_or_reuse`).

A context with an ``attack_seed`` (:meth:`ExperimentContext.for_attack_seed`) repeats the attack step under
another seed: its generators, perturbations and adversarial sets live under ``seeds/<seed>/``, and the
attacks and crafting draw from that seed (see :mod:`staa.experiment.sections.seeds`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from staa.attacks.base import Attack
from staa.attacks.budget import budget_claim
from staa.data.base import SPLITS
from staa.data.cache import PreparedCorpus, seeded_rows
from staa.evaluation.adversarial_set import ADV_FILE, RECORDS_FILE, AdversarialSet, craft_adversarial_set
from staa.io.outputs import claim_folder
from staa.models.base import SERModel

SET_OUTPUTS = (RECORDS_FILE, ADV_FILE, "parts", "victims")  # what an adversarial set's folder holds


@dataclass
class ExperimentContext:
    """The configuration, the output folder, the prepared corpus, the trained models and the log."""

    config: dict[str, Any]
    out: Path
    device: str
    show_progress: bool
    log: Callable[[str], None]
    overwrite: bool = False  # every step starts over (its outputs deleted) instead of resuming
    corpus: PreparedCorpus = field(default=None)  # type: ignore[assignment]  # set by the corpus step
    models: dict[str, SERModel] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    attack_seed: int | None = None  # a repeat of the attack step under this seed (None: the experiment's own)

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def run_seed(self) -> int:
        """The seed of the attack step: the repeat's, else the experiment's."""
        return self.seed if self.attack_seed is None else self.attack_seed

    @property
    def attack_root(self) -> Path:
        """Where the attack step's outputs go: the output folder, or ``seeds/<seed>/`` in a repeat."""
        return self.out if self.attack_seed is None else self.out / "seeds" / str(self.attack_seed)

    def for_attack_seed(self, seed: int) -> ExperimentContext:
        """The same context (corpus and models shared) for a repeat of the attack step under ``seed``."""
        return replace(self, attack_seed=seed)

    @property
    def splits(self) -> list[str]:
        return list(self.config["splits"])

    def rel(self, path: Path) -> str:
        """``path`` relative to the output folder, as results.json and the report link it."""
        return path.relative_to(self.out).as_posix()

    def indices(self, split: str) -> np.ndarray:
        """The attacked rows of ``split``: all, or a seeded subset of ``max_examples`` rows (sorted)."""
        cap = self.config["max_examples"]
        return seeded_rows(len(self.corpus.split(split)), int(cap) if cap else None, [self.seed, SPLITS.index(split)])

    def craft_or_reuse(
        self,
        attack: Attack,
        directory: Path,
        split: str,
        indices: np.ndarray,
        *,
        identity: dict[str, Any],
        threat_key: str,
        target: int | None,
        meta: dict[str, Any],
        perceptual: bool,
    ) -> AdversarialSet:
        """Claim ``directory`` for these settings, then craft (or reuse, or resume) one adversarial set.

        ``threat_key`` identifies the weights the attack differentiates (a fingerprint), ``identity`` its
        settings, ``meta`` what ``records.json`` says the set is (threat, attacker).
        """
        data = self.corpus.split(split)
        chunk = int(self.config["report"]["chunk_size"])
        claim_folder(directory, {"attack": attack.name, "settings": identity, **budget_claim({"eps": attack.eps, "eps_db": attack.eps_db}), "target": target,
                                 "threat": threat_key, "indices": indices.tolist(), "seed": self.run_seed,
                                 "chunk_size": chunk}, outputs=SET_OUTPUTS, overwrite=self.overwrite)  # fmt: skip
        return craft_adversarial_set(
            attack, data.waves, data.labels, indices, directory, items=data.items, target=target, chunk_size=chunk,
            seed=self.run_seed, perceptual=perceptual, sample_rate=self.corpus.sample_rate, meta={**meta, "split": split},
            show_progress=self.show_progress,
        )  # fmt: skip
