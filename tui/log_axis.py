"""Axis ticks that fit the chart: a log axis (coordinates log10 of the values), and
textual-plot's own linear and time axes with at most as many ticks as there is room for.

textual-plot draws linear axes only; the charts give it log10(y) and this
formatter puts the ticks at values a reader knows (1, 2, 5 times a power of
ten) and labels them with the values themselves, not their logarithms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual_plot import AxisFormatter, DurationFormatter, NumericAxisFormatter

MANTISSAS = (1.0, 2.0, 5.0)


def log_ticks(low: float, high: float, max_ticks: int = 8) -> list[float]:
    """log10 positions of 1-2-5 values within [10**low, 10**high]; over more than 2.5
    decades only whole decades (every k-th, to stay under `max_ticks`); within less than one
    decade, where fewer than two such values fall, linear nice values."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return []
    first, last = math.floor(low), math.ceil(high)
    if high - low > 2.5:
        stride = max(1, math.ceil((last - first + 1) / max_ticks))
        return [float(e) for e in range(first, last + 1) if e % stride == 0
                and low <= e <= high]
    ticks = [math.log10(m) + e for e in range(first, last + 1) for m in MANTISSAS]
    ticks = [t for t in ticks if low - 1e-12 <= t <= high + 1e-12]
    if len(ticks) >= 2:
        return ticks[::max(1, math.ceil(len(ticks) / max_ticks))]
    linear = NumericAxisFormatter().get_ticks(10 ** low, 10 ** high, max_ticks)
    return [t for v in linear if v > 0 and low - 1e-9 <= (t := math.log10(v)) <= high + 1e-9]


def value_label(value: float) -> str:
    """Short enough for the y margin: 3 significant digits, exponents when tiny or huge."""
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.0e}"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


class LogAxisFormatter(AxisFormatter):
    """At most `fit` ticks: textual-plot asks for 8 whatever the chart's height, and on a
    6-row axis labels written over each other named the wrong rows."""

    def __init__(self, fit: int = 8) -> None:
        self.fit = fit

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        return log_ticks(min_, max_, min(max_ticks, self.fit))

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        return [value_label(10 ** t) for t in ticks]


class FittedNumericFormatter(NumericAxisFormatter):
    """textual-plot's 1-2-5 ticks, at most `fit` of them (as LogAxisFormatter)."""

    def __init__(self, fit: int = 8) -> None:
        self.fit = fit

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        return super().get_ticks(min_, max_, min(max_ticks, self.fit))


class FittedDurationFormatter(DurationFormatter):
    """textual-plot's time ticks, at most `fit` of them (as LogAxisFormatter)."""

    def __init__(self, fit: int = 8) -> None:
        self.fit = fit

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        return super().get_ticks(min_, max_, min(max_ticks, self.fit))
