"""Property tests (hypothesis): the invariants every attack and metric promises, on random inputs."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from staa.attacks.base import Attack
from staa.attacks.fmn import FMNL0
from staa.attacks.pgd import SparsePGD
from staa.attacks.pgd0 import PGD0
from staa.attacks.sigma_zero import SigmaZero
from staa.attacks.sparse_rs import SparseRS
from staa.attacks.sparsefool import SparseFool
from staa.attacks.zero import ZeroPerturbation
from staa.data.cache import Split
from staa.metrics import accuracy, attack_success_rate, mean_snr, snr_db, sparsity, uar
from staa.models import build_model
from staa.training.ser import predict_split

FEW = settings(max_examples=25, deadline=None)
MODEL_CALLS = settings(max_examples=20, deadline=None)  # each example runs the model
N = 512  # Zhao19 needs 256 samples; 512 keeps every model call cheap

torch.manual_seed(0)
MODEL = build_model("zhao19", num_classes=3, hidden=4).eval()

amplitudes = st.floats(-1.0, 1.0, allow_nan=False, width=32)
epsilons = st.floats(1e-4, 1.0, allow_nan=False, exclude_min=False)


@st.composite
def waves(draw, rows: int, n: int = N) -> torch.Tensor:
    """Random clips in [-1, 1]: a seeded uniform draw per row, scaled by a drawn peak (0 = silent row).

    Drawing a seed and peaks instead of every sample keeps hypothesis fast on 512-sample clips.
    """
    seed = draw(st.integers(0, 2**31 - 1))
    peak = st.sampled_from([0.0, 1e-4, 0.05, 0.5, 1.0]) | amplitudes.map(abs)
    peaks = draw(st.lists(peak, min_size=rows, max_size=rows))
    noise = torch.rand(rows, n, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return (noise * torch.tensor(peaks)[:, None]).clamp(-1, 1)


@FEW
@given(
    x=arrays(np.float32, (3, 64), elements=amplitudes),
    wild=arrays(np.float32, (3, 64), elements=st.floats(-5, 5, width=32)),
    eps=epsilons,
)
def test_base_projection_keeps_the_eps_ball_and_the_amplitude_range(x, wild, eps):
    x = torch.from_numpy(x)
    projected = Attack(MODEL, eps)._project(x, torch.from_numpy(wild))
    assert (projected - x).abs().max() <= eps + 1e-6
    assert projected.min() >= -1 and projected.max() <= 1


@MODEL_CALLS
@given(x=waves(2), eps=epsilons, k=st.integers(1, 2 * N), steps=st.integers(1, 3))
def test_sparse_pgd_respects_its_budgets(x, eps, k, steps):
    result = SparsePGD(MODEL, eps, k=k, steps=steps, seed=0)(x)
    assert result.delta.abs().max() <= eps + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1
    assert ((result.delta != 0).sum(dim=1) <= min(k, N)).all()
    assert ((0 <= result.sparsity) & (result.sparsity <= 100)).all()


@MODEL_CALLS
@given(x=waves(2), eps=epsilons, k=st.integers(1, 2 * N), steps=st.integers(1, 3), restarts=st.integers(1, 2))
def test_pgd0_respects_its_budgets(x, eps, k, steps, restarts):
    result = PGD0(MODEL, eps, k=k, steps=steps, restarts=restarts, seed=0)(x)
    assert result.delta.abs().max() <= eps + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1
    assert (result.l0 <= min(k, N)).all()


@MODEL_CALLS
@given(x=waves(2), eps=epsilons, k=st.integers(1, 2 * N), queries=st.integers(1, 12), targeted=st.booleans())
def test_sparse_rs_respects_its_budgets(x, eps, k, queries, targeted):
    result = SparseRS(MODEL, eps, k=k, queries=queries, targeted=targeted, seed=0)(x, target=1 if targeted else None)
    assert result.delta.abs().max() <= eps + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1
    assert (result.l0 <= min(k, N)).all()


@settings(max_examples=10, deadline=None)
@given(x=waves(2), eps=epsilons, steps=st.integers(1, 3), minimum_norm=st.sampled_from([FMNL0, SigmaZero]))
def test_minimum_norm_attacks_stay_in_the_box_and_return_what_fools(x, eps, steps, minimum_norm):
    result = minimum_norm(MODEL, eps, steps=steps)(x)
    assert result.delta.abs().max() <= eps + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1
    assert (result.l0[~result.success] == 0).all()  # nothing found: the clip comes back unchanged


@settings(max_examples=8, deadline=None)
@given(x=waves(2), eps=epsilons)
def test_sparsefool_respects_eps_and_range(x, eps):
    result = SparseFool(MODEL, eps, steps=2, deepfool_steps=3)(x)
    assert result.delta.abs().max() <= eps + 1e-6
    assert result.x_adv.min() >= -1 and result.x_adv.max() <= 1


@MODEL_CALLS
@given(x=waves(2))
def test_zero_attack_changes_nothing_and_reports_infinite_snr(x):
    result = ZeroPerturbation(MODEL)(x)
    assert torch.equal(result.x_adv, x) and not result.success.any()
    peaks = x.abs().amax(dim=1)
    assert torch.equal(torch.isposinf(result.snr_db), peaks > 0)
    assert torch.equal(torch.isnan(result.snr_db), peaks == 0)
    assert (result.sparsity == 0).all()


@FEW
@given(delta=arrays(np.float32, (4, 50), elements=st.sampled_from([0.0, 0.0, 1e-3, -0.2])))
def test_sparsity_is_the_share_of_changed_samples(delta):
    s = sparsity(torch.from_numpy(delta))
    assert ((0 <= s) & (s <= 100)).all()
    np.testing.assert_allclose(s.numpy(), 100 * (delta != 0).mean(axis=1))


@FEW
@given(
    x=arrays(np.float32, (3, 40), elements=amplitudes).map(torch.from_numpy),
    delta=arrays(np.float32, (3, 40), elements=st.sampled_from([0.0, 1e-6, -1e-3, 0.1])).map(torch.from_numpy),
    scale=st.floats(1e-3, 1e3),
)
def test_snr_is_finite_or_explicitly_flagged(x, delta, scale):
    s = snr_db(x, delta)
    silent, untouched = x.abs().amax(1) == 0, delta.abs().amax(1) == 0
    assert torch.equal(torch.isnan(s), silent)
    assert torch.equal(torch.isposinf(s), untouched & ~silent)
    assert torch.isfinite(s[~silent & ~untouched]).all()
    torch.testing.assert_close(snr_db(x.double() * scale, delta.double() * scale), s, equal_nan=True)  # scale-free
    summary = mean_snr(s)
    assert summary.n_finite + summary.n_zero_perturbation + summary.n_silent == len(s)
    assert summary.mean_db is None or math.isfinite(summary.mean_db)


@FEW
@given(data=st.data(), n=st.integers(1, 60), classes=st.integers(2, 6))
def test_metrics_do_not_depend_on_order(data, n, classes):
    labels = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)))
    preds = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)))
    order = np.array(data.draw(st.permutations(range(n))))
    assert accuracy(preds[order], labels[order]) == accuracy(preds, labels)
    assert uar(preds[order], labels[order], classes) == uar(preds, labels, classes)
    assert attack_success_rate(preds[order], labels[order]) == attack_success_rate(preds, labels)
    assert 0 <= uar(preds, labels, classes) <= 1


@settings(max_examples=10, deadline=None)
@given(x=waves(7), batch_size=st.integers(1, 8))
def test_predictions_do_not_depend_on_the_batch_size(x, batch_size):
    """Batching decides which clips share a forward pass, never a clip's prediction. Batch shapes may move
    logits by float noise (how much depends on the CPU), so clips whose top two logits are closer than
    that may go either way; every other clip must get its own arg-max, in order, whatever the batch size."""
    split = Split(x.numpy(), np.zeros(len(x), np.int64), [])
    with torch.no_grad():
        logits = MODEL(x)
    top2 = logits.topk(2, dim=1).values
    clear = top2[:, 0] - top2[:, 1] > 1e-4
    for preds in (predict_split(MODEL, split, batch_size), predict_split(MODEL, split, 7)):
        assert torch.equal(preds[clear], logits.argmax(1)[clear])
