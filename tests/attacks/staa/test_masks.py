"""Position masks: the per-clip top-k (sparse by construction, trained through a straight-through gradient)."""

from __future__ import annotations

import pytest
import torch

from staa.attacks.staa import Generator, GeneratorConfig
from staa.attacks.staa.masks import budget, topk_mask


def test_budget_rounds_down_and_keeps_at_least_one_sample() -> None:
    assert budget(10.0, 32_000) == 3_200
    assert budget(10.0, 15) == 1 and budget(0.01, 50) == 1
    assert budget(100.0, 7) == 7 and budget(12.5, 8) == 1


def test_topk_keeps_exactly_k_samples_of_each_row_with_the_highest_scores() -> None:
    logits = torch.randn(3, 200, generator=torch.Generator().manual_seed(0))
    mask, soft = topk_mask(logits, 20)
    assert torch.equal(mask.sum(-1), torch.full((3,), 20.0))
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    kept_min = logits.masked_fill(mask == 0, float("inf")).amin(-1)
    dropped_max = logits.masked_fill(mask == 1, float("-inf")).amax(-1)
    assert (kept_min > dropped_max).all()
    assert ((soft >= 0.5) == (mask == 1)).all()  # p = σ(z − τ) is above ½ exactly on the kept samples


def test_topk_keeps_exactly_k_samples_when_scores_tie_at_the_boundary() -> None:
    """Digital silence gives many equal scores: the mask still holds k samples, none scoring below a dropped one."""
    logits = torch.zeros(2, 100)
    logits[0, :5] = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0])  # the 10th highest is one of 95 zeros
    logits[1, ::7] = 1.0  # 15 equal highest scores for 10 places
    mask, _ = topk_mask(logits, 10)
    assert torch.equal(mask.sum(-1), torch.full((2,), 10.0))
    assert torch.equal(mask[0, :5], torch.ones(5))
    assert float(mask[1][logits[1] == 0].sum()) == 0.0


def test_topk_passes_the_gradient_to_samples_that_are_not_kept() -> None:
    """Straight through: a dropped position learns the first-order gain of being switched on."""
    logits = torch.randn(1, 50, generator=torch.Generator().manual_seed(1), requires_grad=True)
    mask, _ = topk_mask(logits, 5)
    gain = torch.randn(1, 50, generator=torch.Generator().manual_seed(2))
    (mask * gain).sum().backward()
    dropped = mask.detach() == 0
    assert (logits.grad[dropped] != 0).all()
    assert torch.equal(torch.sign(logits.grad[dropped]), torch.sign(gain[dropped]))  # descent raises helpful ones


def test_a_full_budget_keeps_every_sample_and_still_passes_gradient() -> None:
    logits = torch.randn(2, 30, requires_grad=True)
    mask, _ = topk_mask(logits, 30)
    assert torch.equal(mask.detach(), torch.ones(2, 30))
    mask.sum().backward()
    assert (logits.grad != 0).all()


@pytest.mark.parametrize("pct", [1.0, 10.0, 37.5])
def test_a_top_k_generator_perturbs_at_most_its_budget_in_training_and_inference_alike(pct: float) -> None:
    torch.manual_seed(0)
    g = Generator(GeneratorConfig.authors(levels=3, features=4, mask="topk", k_percent=pct, bound="clip"))
    x = torch.rand(3, 1600, generator=torch.Generator().manual_seed(3)) * 1.6 - 0.8
    train_mask = g.train()(x).mask
    eval_out = g.eval()(x)
    assert torch.equal(train_mask, eval_out.mask)  # the same binary mask: no random quantisation
    assert ((eval_out.delta != 0).sum(-1) <= budget(pct, 1600)).all()
    assert torch.equal(g(x, k_percent=100.0).mask, torch.ones_like(x))  # training anneals from dense
