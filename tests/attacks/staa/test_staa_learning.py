"""Short real training runs: the adversarial loss works on the clips, the sparsity loss on the mask.

Each run is a few Adam steps of a small generator on the micro corpus against an Emo18, compared
with the same generator before training (same initial weights), in eval mode (binary mask).
"""

from __future__ import annotations

import numpy as np
import torch

from staa.attacks.base import margin_loss
from staa.attacks.staa import Generator, GeneratorConfig, STAATrainConfig, train_generator


def generator() -> Generator:
    torch.manual_seed(0)
    return Generator(GeneratorConfig(levels=3, features=8, bound="clip"))


def evaluate(g: Generator, threat, x: torch.Tensor) -> tuple[float, float]:
    """Mean C&W margin of the threat's clean label on x_adv (lower = stronger attack), and sparsity (%)."""
    g.eval()
    with torch.no_grad():
        labels = threat(x).argmax(-1)
        out = g(x)
        margin = margin_loss(threat(out.x_adv), labels, kappa=100.0).mean()
    return float(margin), 100.0 * float((out.x_adv != x).float().mean())


def run(threat, corpus, tmp_path, **cfg) -> Generator:
    g = generator()
    config = STAATrainConfig(**{"epochs": 6, "lr": 1e-2, "batch_size": 7, "eval_batch_size": 7, **cfg})
    train_generator(g, [threat], corpus, tmp_path, config, show_progress=False)
    return g


def test_adversarial_training_lowers_the_threat_models_margin(threat, micro_corpus, tmp_path) -> None:
    x = torch.from_numpy(np.array(micro_corpus.split("train").waves))
    margin_before, _ = evaluate(generator(), threat, x)
    trained = run(threat, micro_corpus, tmp_path, kappa=100.0, lambda_m=0.0, no_sparsity=True)
    margin_after, _ = evaluate(trained, threat, x)
    assert margin_after < margin_before - 1e-3


def test_sparsity_loss_empties_the_mask_and_its_ablation_does_not(threat, micro_corpus, tmp_path) -> None:
    x = torch.from_numpy(np.array(micro_corpus.split("train").waves))
    _, sparsity_before = evaluate(generator(), threat, x)
    _, sparse = evaluate(run(threat, micro_corpus, tmp_path / "paper"), threat, x)
    _, ablated = evaluate(run(threat, micro_corpus, tmp_path / "ablated", no_sparsity=True, lambda_m=0.0), threat, x)
    assert sparse < 0.5 * sparsity_before
    assert ablated > sparse
