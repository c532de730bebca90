"""Tick positions and labels for a log axis whose coordinates are log10 of the values.

textual-plot draws linear axes only; the charts give it log10(y) and this
formatter puts the ticks at values a reader knows (1, 2, 5 times a power of
ten) and labels them with the values themselves, not their logarithms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual_plot import AxisFormatter, NumericAxisFormatter

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
        return ticks[:max_ticks] if len(ticks) <= max_ticks else ticks[::2]
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
    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        return log_ticks(min_, max_, max_ticks)

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        return [value_label(10 ** t) for t in ticks]
