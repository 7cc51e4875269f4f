"""What every step and section of an experiment shares: :class:`ExperimentContext`.

The context holds the configuration, the output folder, the prepared corpus and the trained models
(with a fingerprint of each model's weights, the identity its cached results are stored under). It
also owns the two rules every output follows: a step's folder is *claimed* for the settings that made
it (:func:`claim_folder`: ``spec.json``; other settings into the same folder are refused rather than
mixed), and an adversarial set is crafted once and then reused (:meth:`ExperimentContext.craft_or_reuse`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from staa.attacks.base import Attack
from staa.data.base import SPLITS
from staa.data.cache import PreparedCorpus
from staa.errors import ConfigError
from staa.evaluation.adversarial_set import AdversarialSet, craft_adversarial_set
from staa.models.base import SERModel
from staa.outputs import write_json

SPEC_FILE = "spec.json"


def claim_folder(directory: Path, spec: dict[str, Any]) -> None:
    """Record the settings behind a step's outputs; refuse to reuse outputs made with other settings."""
    spec = json.loads(json.dumps(spec, default=str))
    path = directory / SPEC_FILE
    if path.exists():
        old = json.loads(path.read_text())
        if old != spec:
            changed = sorted(k for k in set(old) | set(spec) if old.get(k) != spec.get(k))
            raise ConfigError(
                f"outputs here were made with other settings ({', '.join(changed)}); "
                "delete this folder or use another --out",
                directory,
            )
    else:
        write_json(path, spec)


@dataclass
class ExperimentContext:
    """The configuration, the output folder, the prepared corpus, the trained models and the log."""

    config: dict[str, Any]
    out: Path
    device: str
    show_progress: bool
    log: Callable[[str], None]
    corpus: PreparedCorpus = field(default=None)  # type: ignore[assignment]  # set by the corpus step
    models: dict[str, SERModel] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    @property
    def splits(self) -> list[str]:
        return list(self.config.get("splits", ["val", "test"]))

    def rel(self, path: Path) -> str:
        """``path`` relative to the output folder, as results.json and the report link it."""
        return path.relative_to(self.out).as_posix()

    def indices(self, split: str) -> np.ndarray:
        """The attacked rows of ``split``: all, or a seeded subset of ``max_examples`` rows (sorted)."""
        n = len(self.corpus.split(split))
        cap = self.config.get("max_examples")
        if not cap or cap >= n:
            return np.arange(n)
        rng = np.random.default_rng([self.seed, SPLITS.index(split)])
        return np.sort(rng.choice(n, int(cap), replace=False))

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
        chunk = int((self.config.get("report") or {}).get("chunk_size", 8))
        claim_folder(directory, {"attack": attack.name, "settings": identity, "eps": attack.eps, "target": target,
                                 "threat": threat_key, "indices": indices.tolist(), "seed": self.seed,
                                 "chunk_size": chunk})  # fmt: skip
        return craft_adversarial_set(
            attack, data.waves, data.labels, indices, directory, items=data.items, target=target, chunk_size=chunk,
            seed=self.seed, perceptual=perceptual, sample_rate=self.corpus.sample_rate, meta={**meta, "split": split},
            show_progress=self.show_progress,
        )  # fmt: skip
