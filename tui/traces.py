"""What a chart shows of a series, under the user's settings (no Textual).

The Loss panel, the Throughput panel and the Compare view all turn stored
series into traces the same way: smooth over the whole run (so a curve does
not change shape as the window slides), then keep the window, then put x in
steps or in seconds since the run's first point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redheart.runs.smoothing import DEFAULT_SMOOTHING
from tui.chart_data import window_start
from tui.series import Series
from tui.smoothing import smoothed

WINDOWS: tuple[tuple[str, int | None], ...] = (
    ("all steps", None), ("last 100", 100), ("last 1k", 1_000), ("last 10k", 10_000),
    ("last 100k", 100_000))


@dataclass(frozen=True)
class ChartSettings:
    log: bool = False
    smoothing: float = DEFAULT_SMOOTHING
    """EMA weight in [0, 1): 0 draws the raw values."""
    window: int | None = None
    """The last N steps, or None for the whole run."""
    elapsed: bool = False
    """x in seconds since the run's first point instead of steps."""


@dataclass(frozen=True)
class Trace:
    """One drawn series: a line (a training curve) or points (one per evaluation)."""

    label: str
    x: np.ndarray
    y: np.ndarray
    color: str
    points: bool = False


def trace(label: str, series: Series, color: str, settings: ChartSettings,
          points: bool = False, t0: float | None = None, end: float | None = None) -> Trace:
    """`series` as drawn: points (evaluations) are never smoothed, lines are. `t0` is
    the run's start for the elapsed-time axis and `end` its latest step for the window
    (defaults: the series' own first time and last step; evaluations pass the run's, so
    their window is the curves')."""
    values = series.values if points else smoothed(series, settings.smoothing)
    steps = series.steps
    start = window_start(steps, settings.window, end)
    if settings.elapsed:
        times = series.times
        origin = t0 if t0 is not None else (float(times[0]) if times.size else 0.0)
        x = times[start:] - origin
    else:
        x = steps[start:]
    return Trace(label, np.asarray(x, dtype=float), np.asarray(values[start:], dtype=float),
                 color, points)
