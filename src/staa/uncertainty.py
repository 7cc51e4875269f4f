"""How far a percentage on a few dozen clips can be trusted: bootstrap intervals and spread over seeds.

**Over clips.** A test set of n clips is one draw from the clips the corpus could have held; the
percentile bootstrap redraws n clips with replacement ``resamples`` times, recomputes the metric on
each redraw and takes the central ``level`` share of the results as the interval (Efron & Tibshirani,
1993). Every metric of :mod:`staa.metrics` that is a share of clips has one here:

* accuracy, ASR (flip rate), a transfer rate and targeted success — means of a per-clip indicator;
* the correct→wrong rate — a ratio of two counts (clips made wrong / clips correct before);
* UAR — the mean over classes of per-class recalls, each a ratio; a class absent from a redraw is
  skipped, as :func:`staa.metrics.uar` skips a class absent from the labels.

One draw is a row of multinomial counts (how often each clip was drawn), so every resample is a
matrix product: no Python loop over resamples. Keyword options of the ``*_interval`` functions
(``resamples``, ``level``, ``seed``) go to :class:`Bootstrap`. A :class:`Bootstrap` fixes the redraws from its seed;
metrics computed with the same one are paired (the same redraws), which makes differences and means
over several models' or seeds' predictions on one test set valid (:meth:`Bootstrap.interval` of any
function of them). With n = 1, or when every redraw gives the same value (all clips right), the
interval collapses to the point: the bootstrap cannot see variation the sample does not hold.

**Over seeds.** :func:`spread` gives mean, sample standard deviation and range of one number
measured under several seeds (training or attack), for ``mean ± sd`` in tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from staa.metrics import succeeded, uar

ArrayLike = np.ndarray | torch.Tensor | Sequence[int] | Sequence[bool]
LEVEL = 0.95
RESAMPLES = 2000


def _np(a: ArrayLike) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


@dataclass(frozen=True)
class Interval:
    """A point estimate on all clips with its bootstrap interval [low, high] at ``level``, over ``n`` clips."""

    value: float
    low: float
    high: float
    n: int
    level: float = LEVEL

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def to_dict(self) -> dict[str, float | int | None]:
        """For JSON: an undefined bound or value (a rate over no clip) becomes ``None``."""
        d = {**asdict(self), "half_width": self.half_width}
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()}


class Bootstrap:
    """``resamples`` redraws of ``n`` clips, fixed by ``seed``; metrics evaluated on all of them at once."""

    def __init__(self, n: int, resamples: int = RESAMPLES, level: float = LEVEL, seed: int = 0) -> None:
        if n < 1:
            raise ValueError("a bootstrap needs at least one clip")
        if resamples < 1 or not 0 < level < 1:
            raise ValueError(f"need resamples ≥ 1 and level in (0, 1), got {resamples}, {level}")
        self.n, self.level = n, level
        rng = np.random.default_rng(seed)
        self.counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)

    def _check(self, *arrays: np.ndarray) -> None:
        for a in arrays:
            if a.shape[0] != self.n:
                raise ValueError(f"expected {self.n} clips, got {a.shape[0]}")

    def rate(self, hits: ArrayLike, among: ArrayLike | None = None) -> np.ndarray:
        """Per redraw: share of ``hits`` among the clips where ``among`` is true (all clips if ``None``);
        NaN in a redraw without any such clip."""
        h = _np(hits).astype(bool)
        a = np.ones_like(h) if among is None else _np(among).astype(bool)
        self._check(h, a)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.counts @ (h & a)) / (self.counts @ a)

    def uar(self, pred: ArrayLike, target: ArrayLike, num_classes: int | None = None) -> np.ndarray:
        """Per redraw: mean recall over the classes present in that redraw."""
        p, t = _np(pred).astype(int), _np(target).astype(int)
        self._check(p, t)
        c = num_classes or int(max(p.max(), t.max())) + 1
        onehot = np.eye(c)[t]
        support = self.counts @ onehot
        hits = self.counts @ (onehot * (p == t)[:, None])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nanmean(np.where(support > 0, hits / support, np.nan), axis=1)

    def interval(self, value: float, samples: np.ndarray) -> Interval:
        """The percentile interval of ``samples`` (one value per redraw, NaNs left out) around ``value``,
        widened to contain ``value`` where the redraws' percentiles miss it (a skewed metric on very few
        clips), so that a table never prints a point outside its own interval."""
        finite = samples[np.isfinite(samples)]
        if finite.size == 0:
            return Interval(value, float("nan"), float("nan"), self.n, self.level)
        tail = 100 * (1 - self.level) / 2
        low, high = np.percentile(finite, [tail, 100 - tail])
        return Interval(value, float(min(low, value)), float(max(high, value)), self.n, self.level)


def rate_interval(hits: ArrayLike, among: ArrayLike | None = None, **bootstrap: Any) -> Interval:
    """Interval of a share of clips (accuracy, ASR, transfer rate: ``among=None``; correct→wrong:
    ``among`` = the clips correct before the attack). NaN value when ``among`` selects no clip."""
    h = _np(hits).astype(bool)
    if h.size == 0:
        raise ValueError("a rate of an empty set is undefined")
    a = np.ones_like(h) if among is None else _np(among).astype(bool)
    value = float(h[a].mean()) if a.any() else float("nan")
    b = Bootstrap(h.size, **bootstrap)
    return b.interval(value, b.rate(h, a))


def accuracy_interval(pred: ArrayLike, target: ArrayLike, **bootstrap: Any) -> Interval:
    return rate_interval(_np(pred) == _np(target), **bootstrap)


def uar_interval(pred: ArrayLike, target: ArrayLike, num_classes: int | None = None, **bootstrap: Any) -> Interval:
    """Interval of the UAR (:func:`staa.metrics.uar`) over the clips' redraws."""
    p, t = _np(pred), _np(target)
    if t.size == 0:
        raise ValueError("UAR of an empty set is undefined")
    b = Bootstrap(t.size, **bootstrap)
    return b.interval(uar(p, t, num_classes), b.uar(p, t, num_classes))


def asr_interval(
    clean_pred: ArrayLike, adv_pred: ArrayLike, target: ArrayLike | None = None, **bootstrap: Any
) -> Interval:
    """Untargeted ASR (flips of the clean prediction) or, with ``target``, targeted success."""
    return rate_interval(
        succeeded(_np(clean_pred), _np(adv_pred), None if target is None else _np(target)), **bootstrap
    )


def correct_to_wrong_interval(
    clean_pred: ArrayLike, adv_pred: ArrayLike, labels: ArrayLike, **bootstrap: Any
) -> Interval:
    """The stricter rate: clips made wrong among those the model had right."""
    y = _np(labels)
    return rate_interval(_np(adv_pred) != y, among=_np(clean_pred) == y, **bootstrap)


@dataclass(frozen=True)
class Spread:
    """One number measured under several seeds: mean, sample standard deviation (0 for one seed), range."""

    mean: float
    sd: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def spread(values: Sequence[float]) -> Spread:
    """Mean ± sd of ``values`` (one per seed); NaN values (e.g. a rate over no clip) are left out."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("no finite value to summarise")
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return Spread(float(v.mean()), sd, float(v.min()), float(v.max()), int(v.size))
