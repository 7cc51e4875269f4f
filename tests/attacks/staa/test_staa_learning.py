"""Short real training runs: the adversarial loss works on the clips, the sparsity loss on the mask,
and the real-time generator learns a sparse attack on a trained Emo18.

The first runs are a few Adam steps of a small generator on the micro corpus against an untrained
Emo18, compared with the same generator before training (same initial weights), in eval mode (binary
mask). The last trains an Emo18 for a few epochs, then the real-time generator against it.
"""

from __future__ import annotations

import pytest
import numpy as np
import torch

from staa.attacks.base import margin_loss
from staa.attacks.staa import Generator, GeneratorConfig, STAATrainConfig, train_generator
from staa.data.cache import prepare
from staa.data.synthetic import SyntheticCorpus
from staa.models import build_model
from staa.training.ser import TrainConfig, train_ser


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


@pytest.mark.slow  # trains two generators
def test_sparsity_loss_empties_the_mask_and_its_ablation_does_not(threat, micro_corpus, tmp_path) -> None:
    x = torch.from_numpy(np.array(micro_corpus.split("train").waves))
    _, sparsity_before = evaluate(generator(), threat, x)
    _, sparse = evaluate(run(threat, micro_corpus, tmp_path / "paper"), threat, x)
    _, ablated = evaluate(run(threat, micro_corpus, tmp_path / "ablated", no_sparsity=True, lambda_m=0.0), threat, x)
    assert sparse < 0.5 * sparsity_before
    assert ablated > sparse


@pytest.mark.slow  # trains Emo18, then the generator for 6 epochs
def test_realtime_generator_learns_a_sparse_attack_on_a_trained_emo18(tmp_path) -> None:
    """Issue 6: white-box ASR well above the threat model's clean error rate, sparsity below 50 %.

    ASR is the share of test clips whose prediction the attack changes (the paper's untargeted
    protocol); a generator that does not learn leaves it near the share its random initial mask flips
    by chance, and a silent one (all-zero mask) at 0. The sparsity loss is weighted 3e-5 (the paper's
    1e-4 is tuned for 6 s clips and hundreds of epochs; here it empties the mask before the attack
    forms). Measured: clean error 48 %, ASR 81 %, error on x_adv 76 %, sparsity 27 %; ~30–50 s.
    """
    synthetic = SyntheticCorpus(n_speakers=5, per_emotion=3, seconds=1.0, seed=0)
    corpus = prepare(synthetic, tmp_path / "cache", show_progress=False)
    torch.manual_seed(0)
    threat = build_model("emo18", num_classes=7, hidden=32)
    train_ser(threat, corpus, tmp_path / "emo18", TrainConfig(epochs=10, lr=3e-3, batch_size=8), show_progress=False)
    threat.eval()
    torch.manual_seed(0)
    g = Generator(GeneratorConfig.realtime())
    config = STAATrainConfig.paper(epochs=6, lr=1e-2, batch_size=8, lambda_s=3e-5)
    train_generator(g, [threat], corpus, tmp_path / "generator", config, show_progress=False)

    test = corpus.split("test")
    x, y = torch.from_numpy(np.array(test.waves)), torch.from_numpy(np.array(test.labels))
    g.eval()
    with torch.no_grad():
        x_adv = g(x).x_adv
        clean, adversarial = threat(x).argmax(-1), threat(x_adv).argmax(-1)
    clean_error = float((clean != y).float().mean())
    asr = float((adversarial != clean).float().mean())
    assert clean_error < 0.6  # the threat model learned something (chance: 6/7 wrong)
    assert asr > clean_error + 0.15
    assert float((adversarial != y).float().mean()) > clean_error + 0.15  # it flips correct predictions too
    assert float((x_adv != x).float().mean()) < 0.5
