"""Each series' smoothed curve, kept and extended as points arrive.

Smoothing a 100,000-point series takes ~8 ms, and the Loss and Throughput
panels show seven; recomputed twice a second that alone would break the
50 ms redraw budget and take the GIL from training. The smoothed curve only
changes at its end (new points), when the weight changes, or when the
series merges its older points (tui/series.py), so only then is it redone.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from redheart.runs.smoothing import ema_continued
from tui.series import Series


@dataclass
class _Smoothed:
    weight: float
    compactions: int
    values: np.ndarray
    last: float
    count: int


_CACHE: weakref.WeakKeyDictionary[Series, _Smoothed] = weakref.WeakKeyDictionary()
"""Dies with its series (a run closed, a view replaced)."""


def smoothed(series: Series, weight: float) -> np.ndarray:
    """`ema(series.values, weight)`, computed once and then only for new points."""
    kept = _CACHE.get(series)
    n = len(series)
    if kept is None or kept.weight != weight or kept.compactions != series.compactions \
            or kept.values.size > n:
        values, last, count = ema_continued(series.values, weight)
        _CACHE[series] = _Smoothed(weight, series.compactions, values, last, count)
        return values
    if kept.values.size < n:
        new, kept.last, kept.count = ema_continued(series.values[kept.values.size:], weight,
                                                   kept.last, kept.count)
        kept.values = np.concatenate((kept.values, new))
    return kept.values
