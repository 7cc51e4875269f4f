"""SparseFool: the vectorised linear solver equals the greedy one-coordinate-at-a-time solver, the
attack finds the one sample a decision hangs on, reaches targets, and never leaves the ε box."""

from __future__ import annotations

import pytest
import torch

from staa.attacks.sparsefool import PLANE_MARGIN, SparseFool, linear_solve
from staa.errors import ConfigError

EPS = 0.05


def greedy_solve(x, normal, plane_point, lo, hi):
    """Modas et al.'s solver for one row: largest |w| first, each coordinate as far as needed or allowed."""
    x = x.clone().double()
    w = normal.double()
    gap = float((w * (plane_point.double() - x)).sum())
    direction = 1.0 if gap >= 0 else -1.0
    need = abs(gap) + PLANE_MARGIN
    for j in w.abs().argsort(descending=True).tolist():
        if need <= 0 or w[j] == 0:
            break
        step = direction * float(torch.sign(w[j]))
        room = float(hi[j] - x[j]) if step > 0 else float(x[j] - lo[j])
        move = min(need / abs(float(w[j])), max(room, 0.0))
        x[j] += step * move
        need -= abs(float(w[j])) * move
    return x.float()


@pytest.mark.parametrize("reach", [0.01, 0.2, 5.0])  # one coordinate, a few, more than the box allows
def test_linear_solver_matches_the_greedy_loop(reach):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(3, 200, generator=g) * 1.6 - 0.8
    normal = torch.randn(3, 200, generator=g)
    normal[:, 50:60] = 0  # coordinates the plane does not depend on never move
    normal = normal / normal.norm(dim=1, keepdim=True)
    plane_point = x + reach * normal
    lo, hi = (x - EPS).clamp(min=-1), (x + EPS).clamp(max=1)
    ours = linear_solve(x, normal, plane_point, lo, hi)
    for row in range(3):
        expected = greedy_solve(x[row], normal[row], plane_point[row], lo[row], hi[row])
        torch.testing.assert_close(ours[row], expected, atol=1e-6, rtol=0)
    assert ((ours >= lo) & (ours <= hi)).all()
    assert (ours[:, 50:60] == x[:, 50:60]).all()
    crossed = ((ours - plane_point) * normal).sum(1) > 0
    assert crossed.all() == (reach < 1.0)  # 5.0 lies beyond the box corner


def test_lambda_1_finds_the_single_decisive_sample(spike):
    model, x = spike(4, 256, 37)
    result = SparseFool(model, EPS, lam=1)(x)
    assert result.success.all()
    assert (result.adv_pred == 1).all()  # the nearer boundary
    assert set(torch.nonzero(result.delta)[:, 1].tolist()) == {37}


def test_paper_lambda_succeeds_inside_the_box(spike):
    model, x = spike(4, 256, 37)
    result = SparseFool(model, EPS)(x)  # λ = 10 aims far past the boundary: many samples move
    assert result.success.all()
    assert result.delta.abs().max() <= EPS + 1e-6
    assert (result.delta[:, 37] > 0).all()


@pytest.mark.parametrize("target", [1, 2])
@pytest.mark.parametrize("lam", [1.0, 10.0])
def test_targeted_reaches_the_target(spike, target, lam):
    model, x = spike(4, 256, 37)
    result = SparseFool(model, EPS, lam=lam, targeted=True)(x, target=target)
    assert (result.adv_pred == target).all()
    assert result.delta.abs().max() <= EPS + 1e-6


@pytest.mark.parametrize("targeted", [False, True])
@pytest.mark.parametrize("eps", [0.002, 0.05])
def test_eps_and_bounds_hold_on_a_random_model(random_model, random_inputs, targeted, eps):
    result = SparseFool(random_model, eps, steps=3, deepfool_steps=5, targeted=targeted)(
        random_inputs, target=2 if targeted else None
    )
    assert result.delta.abs().max() <= eps + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1
    assert (result.delta != 0).any(dim=1).all()


def test_restricting_the_linearised_classes_still_succeeds(spike):
    model, x = spike(4, 256, 37)
    assert SparseFool(model, EPS, lam=1, candidates=1)(x).success.all()


@pytest.mark.parametrize(
    "options", [{"steps": 0}, {"deepfool_steps": 0}, {"lam": 0.5}, {"overshoot": -0.1}, {"candidates": 0}]
)
def test_invalid_options_are_refused(random_model, options):
    with pytest.raises(ConfigError):
        SparseFool(random_model, EPS, **options)
