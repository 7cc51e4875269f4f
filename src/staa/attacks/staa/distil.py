"""Distillation: a fast generator's context first learns a trained adjoint generator's sample map.

Why: the shallow adjoint generator (:mod:`staa.attacks.staa.shallow`) must learn what the threat's second
and third front-end blocks contribute to the map z that decides δ's signs and positions. Trained on the
attack loss alone it learns that slowly, from one scalar margin per clip; a trained adjoint generator, which
has those blocks exactly, gives a target for every sample instead. So the student's context network is
first fitted to the teacher's z (1 − cosine over each clip's samples: z's scale is the learned gain's), on
random crops of the training speech, and the attack loss then fine-tunes it as any generator is trained.
The teacher and the student must carry the same threat's front end.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from staa.attacks.staa.adjoint import AdjointGenerator
from staa.attacks.staa.generator import Generator
from staa.data.cache import PreparedCorpus
from staa.errors import ConfigError

VALIDATION_CLIPS = 32  # the first clips of the validation split, scored every ``every`` steps


def check_teacher(student: Generator, teacher: Generator, where: str) -> tuple[AdjointGenerator, AdjointGenerator]:
    """(student, teacher) if both are adjoint-family generators over the same front end, else one error line."""
    if not isinstance(teacher, AdjointGenerator) or not isinstance(student, AdjointGenerator):
        raise ConfigError(f"distillation: {where}: teacher and student must both be adjoint-family generators "
                          f"(got a '{teacher.config.architecture}' teacher, a '{student.config.architecture}' student)")  # fmt: skip
    if teacher.config.front != student.config.front:
        raise ConfigError(f"distillation: {where}: the teacher was trained against another threat model")
    return student, teacher


def sample_cosine(student: AdjointGenerator, teacher: AdjointGenerator, x: torch.Tensor) -> torch.Tensor:
    """Per clip, the cosine between the student's and the teacher's sample maps z (the teacher's detached)."""
    with torch.no_grad():
        target = teacher.adjoint(x)
    return F.cosine_similarity(student.adjoint(x), target, dim=-1)


def distil(
    student: Generator,
    teacher: Generator,
    corpus: PreparedCorpus,
    steps: int,
    *,
    batch_size: int = 8,
    lr: float = 1e-3,
    crop_seconds: float = 1.0,
    seed: int = 0,
    every: int = 100,
    device: str | torch.device = "cpu",
    where: str = "teacher",
) -> list[dict[str, Any]]:
    """Fit ``student``'s context to ``teacher``'s sample map for ``steps`` Adam steps; the history of
    (step, train 1 − cosine, validation cosine, seconds). Crops and the order are fixed by ``seed``; ``where``
    names the teacher in an error."""
    student, teacher = check_teacher(student, teacher, where)
    student.to(device)
    teacher.to(device).eval()
    waves = corpus.split("train").waves
    length = min(int(crop_seconds * corpus.sample_rate), waves.shape[1])
    val = torch.from_numpy(np.array(corpus.split("val").waves[:VALIDATION_CLIPS], dtype=np.float32)).to(device)
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.Adam(student.context.parameters(), lr=lr)
    history: list[dict[str, Any]] = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        rows = rng.integers(0, len(waves), batch_size)
        starts = rng.integers(0, waves.shape[1] - length + 1, batch_size)
        crops = np.stack([waves[r, s : s + length] for r, s in zip(rows, starts)]).astype(np.float32)
        student.train()
        loss = (1 - sample_cosine(student, teacher, torch.from_numpy(crops).to(device))).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % every == 0 or step == steps:
            student.eval()
            with torch.no_grad():
                cosine = float(sample_cosine(student, teacher, val).mean()) if len(val) else float("nan")
            history.append({"step": step, "loss": float(loss.detach()), "val_cosine": cosine,
                            "seconds": time.perf_counter() - start})  # fmt: skip
    return history
