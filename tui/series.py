"""One metric's history for the charts: step, time and value, bounded in memory.

A chart must be able to show a whole 100,000-step run and, zoomed to the
last N steps, every step; yet a week-long run must not grow the console
without end. So a series keeps every point up to `CAPACITY`, and when full
it averages the older half pairwise: the recent half stays at full
resolution, older history gets coarser (each compaction halves it again),
and memory stays flat. What is drawn is decimated separately, per redraw
(tui/chart_data.py); this is only what is kept.
"""

from __future__ import annotations

import numpy as np

CAPACITY = 1 << 17
"""131,072 points a series (3 MiB): a 100,000-step run is kept whole."""
_FIRST = 1024
"""Arrays start this small and double: a short run costs kilobytes, not megabytes."""


class Series:
    """Append-only (step, t, value) columns; `steps`, `times`, `values` are read-only views."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        if capacity < 4 or capacity % 4:
            raise ValueError("capacity must be a multiple of 4 (it is halved twice)")
        self.capacity = capacity
        self._data = np.empty((3, min(_FIRST, capacity)))
        self._n = 0
        self.compactions = 0
        """How often older points were merged (or later ones dropped): anything derived
        from them is stale."""

    def __len__(self) -> int:
        return self._n

    def append(self, step: float, t: float, value: float) -> None:
        if self._n == self._data.shape[1]:
            if self._n < self.capacity:
                grown = np.empty((3, min(2 * self._n, self.capacity)))
                grown[:, :self._n] = self._data[:, :self._n]
                self._data = grown
            else:
                self._compact()
        self._data[:, self._n] = (step, t, value)
        self._n += 1

    def drop_after(self, step: float) -> None:
        """Forget the points past `step`: a resumed launch restarts at its checkpoint's
        step, and the killed launch's later points would draw the curve looping back
        (and break the increasing steps that windowing and decimation rely on). Counted
        as a compaction, so whatever was derived from the dropped points is redone."""
        keep = int(np.searchsorted(self._data[0, :self._n], step, side="right"))
        if keep < self._n:
            self._n = keep
            self.compactions += 1

    def _compact(self) -> None:
        """Average the older half in pairs (a pair takes its later step and time, so
        steps stay increasing and the last point of a pair is where it ends)."""
        half = self._n // 2
        old = self._data[:, :half]
        merged = old[:, 1::2].copy()
        merged[2] = (old[2, 0::2] + old[2, 1::2]) / 2
        quarter = merged.shape[1]
        self._data[:, :quarter] = merged
        self._data[:, quarter:quarter + self._n - half] = self._data[:, half:self._n]
        self._n = quarter + self._n - half
        self.compactions += 1

    def _column(self, row: int) -> np.ndarray:
        view = self._data[row, :self._n]
        view.flags.writeable = False
        return view

    @property
    def steps(self) -> np.ndarray:
        return self._column(0)

    @property
    def times(self) -> np.ndarray:
        return self._column(1)

    @property
    def values(self) -> np.ndarray:
        return self._column(2)

    @property
    def last(self) -> float | None:
        return float(self._data[2, self._n - 1]) if self._n else None
