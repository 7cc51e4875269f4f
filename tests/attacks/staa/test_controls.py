"""Mask controls: the generator's own magnitudes on random or periodic positions of the same count."""

from __future__ import annotations

import math

import pytest
import torch

from staa.attacks.staa import Generator, GeneratorConfig
from staa.attacks.staa.controls import MaskControl, comb_positions, random_positions
from staa.errors import ConfigError


def generator() -> Generator:
    torch.manual_seed(0)
    return Generator(GeneratorConfig.authors(levels=3, features=4, mask="topk", k_percent=5.0, bound="clip", eps=0.05))


def clips() -> torch.Tensor:
    return torch.rand(4, 2000, generator=torch.Generator().manual_seed(1)) * 0.8 - 0.4  # no clamp at ±1


def test_position_helpers_keep_each_rows_count() -> None:
    counts = torch.tensor([0, 1, 7, 100])
    rnd = random_positions(counts, 100, torch.Generator().manual_seed(0))
    assert torch.equal(rnd.sum(-1), counts.float())
    comb = comb_positions(torch.tensor([10, 3]), 100)
    assert torch.nonzero(comb[0]).flatten().tolist() == list(range(0, 100, 10))
    assert torch.nonzero(comb[1]).flatten().tolist() == [0, 34, 68]  # every ⌈100/3⌉-th sample


@pytest.mark.parametrize("kind", ["random", "comb"])
def test_controls_move_the_generators_magnitudes_and_keep_the_count(threat, kind: str) -> None:
    g, x = generator(), clips()
    with torch.no_grad():
        own = g.eval()(x)
    result = MaskControl(threat, g, kind, seed=3)(x)
    counts, moved = (own.delta != 0).sum(-1), result.delta != 0
    if kind == "random":
        assert torch.equal(moved.sum(-1), counts)
        assert not torch.equal(moved, own.delta != 0)  # other positions than the generator's
    else:
        step = math.ceil(x.shape[-1] / int(counts[0]))
        assert torch.nonzero(moved[0]).flatten().tolist() == list(range(0, x.shape[-1], step))
    torch.testing.assert_close(result.delta[moved], own.magnitudes[moved], rtol=0, atol=1e-6)  # v, unchanged


def test_random_control_is_fixed_by_its_seed_and_unknown_kinds_are_refused(threat) -> None:
    g, x = generator(), clips()
    a, b = MaskControl(threat, g, "random", seed=3)(x), MaskControl(threat, g, "random", seed=3)(x)
    assert torch.equal(a.x_adv, b.x_adv)
    assert not torch.equal(a.x_adv, MaskControl(threat, g, "random", seed=4)(x).x_adv)
    with pytest.raises(ConfigError, match="kind"):
        MaskControl(threat, g, "lattice")
