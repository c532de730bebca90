"""From a stored series to the points a chart draws: window, decimate, log (the
smoothing is `redheart/runs/smoothing.py`, shared with `redheart plot`).

Pure numpy, no Textual, so each step is unit-tested and timed on its own.
A 100,000-step history must redraw in well under 50 ms, so nothing here
loops in Python per point: decimation reduces with `reduceat`, and only
about two points per drawn column reach the widget.
"""

from __future__ import annotations

import numpy as np


def window_start(steps: np.ndarray, last_n: int | None, end: float | None = None) -> int:
    """Index of the first point within the last `last_n` steps up to `end` (default:
    the last step); None: the whole run."""
    if last_n is None or steps.size == 0:
        return 0
    end = float(steps[-1]) if end is None else end
    return int(np.searchsorted(steps, end - last_n, side="right"))


def decimate(x: np.ndarray, y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """At most two points per column: each column's lowest and highest value, at the
    column's mean x. A spike survives (a mean would hide it, a stride could skip it),
    and the drawing cost no longer depends on the history's length. `x` must be
    increasing; NaNs in `y` are dropped first."""
    keep = np.isfinite(y)
    x, y = np.asarray(x, dtype=float)[keep], np.asarray(y, dtype=float)[keep]
    if columns < 1 or x.size <= 2 * columns:
        return x, y
    edges = np.linspace(x[0], x[-1], columns + 1)
    starts = np.unique(np.searchsorted(x, edges[:-1], side="left"))
    starts = starts[starts < x.size]
    counts = np.diff(np.append(starts, x.size))
    centre = np.add.reduceat(x, starts) / counts
    low, high = np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)
    return np.repeat(centre, 2), np.column_stack((low, high)).reshape(-1)


def log10_positive(y: np.ndarray) -> np.ndarray:
    """log10 of each value; zero and negative ones become NaN (not drawable on a log
    axis, as TensorBoard leaves them out)."""
    y = np.asarray(y, dtype=float)
    out = np.full(y.shape, np.nan)
    positive = y > 0
    out[positive] = np.log10(y[positive])
    return out
