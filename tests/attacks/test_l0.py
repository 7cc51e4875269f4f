"""The sparse-box projection is the exact Euclidean projection (checked against every support by brute
force, on lopsided boxes where "top-k by magnitude, then clip" is wrong), and the sparsest-fooling
tracker keeps the smallest fooling perturbation."""

from __future__ import annotations

import itertools

import pytest
import torch

from staa.attacks.l0 import SparsestFooling, project_sparse_box


def brute_force_distance(y: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, k: int) -> float:
    """Smallest ‖y − δ‖₂ over every support of k samples (each kept sample at its clipped value)."""
    clipped = torch.minimum(torch.maximum(y, lo), hi)
    best = float("inf")
    for support in itertools.combinations(range(len(y)), k):
        delta = torch.zeros_like(y)
        delta[list(support)] = clipped[list(support)]
        best = min(best, float((y - delta).norm()))
    return best


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [0, 1, 3, 6])
def test_projection_is_the_nearest_point_of_the_sparse_box(seed, k):
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(3, 6, generator=g)
    lo, hi = -torch.rand(3, 6, generator=g), torch.rand(3, 6, generator=g) * 0.2  # lopsided boxes around 0
    projected = project_sparse_box(y, lo, hi, k)
    assert ((projected != 0).sum(dim=1) <= k).all()
    assert (projected >= lo).all() and (projected <= hi).all()
    for row in range(3):
        expected = brute_force_distance(y[row], lo[row], hi[row], k)
        assert float((y[row] - projected[row]).norm()) == pytest.approx(expected, abs=1e-6)


def test_gain_not_magnitude_decides_on_a_lopsided_box():
    y = torch.tensor([[0.9, -0.5]])
    lo, hi = torch.tensor([[-1.0, -1.0]]), torch.tensor([[0.1, 1.0]])  # the larger sample can move only 0.1
    assert torch.equal(project_sparse_box(y, lo, hi, 1), torch.tensor([[0.0, -0.5]]))


def test_a_budget_per_row_matches_one_budget_at_a_time():
    g = torch.Generator().manual_seed(0)
    y, lo, hi = torch.randn(4, 50, generator=g), -0.3 * torch.ones(4, 50), 0.5 * torch.ones(4, 50)
    budgets = torch.tensor([0, 1, 7, 50])
    together = project_sparse_box(y, lo, hi, budgets)
    for row, k in enumerate(budgets.tolist()):
        assert torch.equal(
            together[row], project_sparse_box(y[row : row + 1], lo[row : row + 1], hi[row : row + 1], k)[0]
        )


def test_sparsest_fooling_keeps_the_fewest_changed_samples_among_fooling_iterates():
    tracker = SparsestFooling(torch.zeros(2, 4))
    dense, sparse = torch.tensor([[1.0, 1, 1, 0], [1, 1, 0, 0]]), torch.tensor([[1.0, 0, 0, 0], [1, 0, 0, 0]])
    tracker.update(dense, torch.tensor([True, False]))
    tracker.update(sparse, torch.tensor([False, False]))  # sparser but not fooling: ignored
    assert tracker.l0.tolist() == [3, float("inf")]
    tracker.update(sparse, torch.tensor([True, True]))
    tracker.update(dense, torch.tensor([True, True]))  # fooling but denser: ignored
    assert tracker.l0.tolist() == [1, 1] and torch.equal(tracker.delta, sparse)
