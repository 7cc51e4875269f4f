"""STAANet as an Attack: one eval-mode generator forward, registered as "staa", ε from the generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from staa.attacks.registry import attack_class, build_attack
from staa.attacks.staa import Generator, GeneratorConfig, STAANet
from staa.models import build_model


@pytest.fixture(scope="module")
def victim() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("emo18", num_classes=7, hidden=16).eval()


def clips(tiny_corpus) -> torch.Tensor:
    return torch.from_numpy(np.array(tiny_corpus.split("val").waves[:6], dtype=np.float32))


def zero_generator(**kw) -> Generator:
    g = Generator(GeneratorConfig.authors(levels=3, features=4, **kw))
    with torch.no_grad():
        g.magnitude_decoder.head.weight.zero_()
        g.magnitude_decoder.head.bias.zero_()
    return g


def test_zero_perturbation_gives_the_clean_clip_and_no_success(victim, tiny_corpus) -> None:
    x = clips(tiny_corpus)
    result = STAANet(victim, zero_generator())(x)
    assert torch.equal(result.x_adv, x)
    assert torch.equal(result.adv_pred, result.clean_pred)
    assert result.success.float().mean() == 0.0
    assert torch.all(result.sparsity == 0)


def test_attack_uses_the_generator_in_eval_mode_and_stays_in_the_eps_ball(victim, tiny_corpus) -> None:
    torch.manual_seed(1)
    g = Generator(GeneratorConfig.authors(levels=3, features=4, eps=0.05)).train()
    x = clips(tiny_corpus)
    attack = STAANet(victim, g)
    assert attack.eps == 0.05 and attack.name == "staa"
    r1, r2 = attack(x), attack(x)
    assert g.training  # restored afterwards
    assert torch.equal(r1.x_adv, r2.x_adv)  # eval mode: binary mask, no random quantisation
    g.eval()
    expected = g(x).x_adv
    assert torch.allclose(r1.x_adv, expected)
    assert r1.delta.abs().max() <= 0.05 + 1e-7
    assert torch.equal(r1.success, r1.adv_pred != r1.clean_pred)


def test_another_eps_scales_the_perturbation(victim, tiny_corpus) -> None:
    g = Generator(GeneratorConfig.authors(levels=3, features=4, eps=0.05, bound="clip"))
    x = clips(tiny_corpus) * 0.5  # far from ±1, so no amplitude clamping interferes
    big, small = STAANet(victim, g)(x), STAANet(victim, g, eps=0.01)(x)
    assert torch.allclose(small.delta * 5, big.delta, atol=1e-6)


def test_from_pretrained_and_registry(victim, tiny_corpus, tmp_path) -> None:
    g = Generator(GeneratorConfig.authors(levels=3, features=4)).eval()
    g.save_pretrained(tmp_path / "gen")
    x = clips(tiny_corpus)
    loaded = STAANet.from_pretrained(victim, tmp_path / "gen")
    assert torch.equal(loaded(x).x_adv, STAANet(victim, g)(x).x_adv)
    assert attack_class("staa") is STAANet
    built = build_attack("staa", victim, generator=g, eps=0.02)
    assert isinstance(built, STAANet) and built.eps == 0.02


def test_targeted_attack_reports_success_on_the_target(victim, tiny_corpus) -> None:
    x = clips(tiny_corpus)
    result = STAANet(victim, zero_generator(), targeted=True)(x, target=3)
    assert torch.equal(result.success, result.adv_pred == 3)
