"""Percentile bootstrap intervals, vectorised: 1,000 resamples as one matrix product.

A resample of N rows is a vector of how often each row was drawn. Every
metric of `redheart.train.metrics` is a function of per-row numbers summed
over rows, so the sums of all resamples are `weights @ rows` ([R, N] @ [N, k])
and the metric follows from them: seconds for 1,000 resamples of thousands
of rows, where calling sklearn 1,000 times would take minutes.

The weights depend only on (row count, seed): the model, the prior and the
probe are resampled on exactly the same rows (a paired bootstrap), and the
same seed gives the same intervals on every run.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from redheart.train.metrics import Statistic

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95


@lru_cache(maxsize=8)
def resample_weights(rows: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """[resamples, rows] float64: how often each row is drawn in each resample."""
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, rows, size=(resamples, rows))
    flat = (drawn + np.arange(resamples)[:, None] * rows).ravel()
    weights = np.bincount(flat, minlength=resamples * rows).reshape(resamples, rows)
    weights = weights.astype(np.float64)
    weights.flags.writeable = False     # cached and shared: nobody may change it
    return weights


def samples(statistic: Statistic, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """The metric on every resample: [resamples] (or [resamples, classes])."""
    n = len(statistic.rows)
    return statistic.reduce(resample_weights(n, resamples, seed) @ statistic.rows, n)


def interval(statistic: Statistic, resamples: int = RESAMPLES, seed: int = SEED,
             level: float = LEVEL) -> list | None:
    """[low, high] percentile interval (a list of them for a per-class metric); None when
    the metric is undefined on some resample (Pearson r where the resampled estimates are
    constant): leaving those out would make the interval look tighter than it is."""
    drawn = samples(statistic, resamples, seed)
    if not np.isfinite(drawn).all():
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(drawn, [tail, 100 - tail], axis=0)
    if np.ndim(low) == 0:
        return [float(low), float(high)]
    return [[float(a), float(b)] for a, b in zip(low, high, strict=True)]
