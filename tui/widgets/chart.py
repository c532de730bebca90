"""A line chart with axes and tick labels: textual-plot's PlotWidget, fed decimated traces.

textual-plot (not textual-plotext) because it draws only when its data
changes (plotext rebuilds the whole figure on every repaint of the screen,
~35 ms in the UI thread that shares the GIL with training), it is numpy
based, and it works with the project's Textual 8.2 (textual-plotext pins
plotext < 6). It has linear axes only: log scale is log10 of the values
with ticks labelled by value (tui/log_axis.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack

import numpy as np
from rich.text import Text
from textual_hires_canvas import Canvas
from textual_plot import HiResMode, PlotWidget

from tui.chart_data import decimate, log10_positive
from tui.log_axis import FittedDurationFormatter, FittedNumericFormatter, LogAxisFormatter
from tui.traces import Trace

POINT = "●"
LINE = "━"
POINT_EVERY = 3
"""Evals are drawn as ● while there is at most one per this many columns; a run that
evaluates more often than that gets small dots (one ● a cell filled the chart)."""
X_MARGIN, Y_MARGIN = 0.02, 0.05
"""Room beyond the data on each axis, as a fraction of its span."""



def legend(traces: Sequence[Trace], width: int = 0) -> Text:
    """`━ name  ━ name` per trace in its colour, a new line only between entries once
    `width` cells are full (0: one line). Rich wraps at any space: at 120 columns the
    Compare view showed `━ live-20261203-064706  ━` and lost the second run's name."""
    text = Text()
    column = 0
    for trace in traces:
        entry = f"{POINT if trace.points else LINE} {trace.label}"
        if column and width and column + 2 + len(entry) > width:
            text.append("\n")
            column = 0
        elif column:
            text.append("  ")
            column += 2
        text.append(entry[:2], style=trace.color)
        text.append(entry[2:])
        column += len(entry)
    return text


def padded_limits(arrays: list[np.ndarray], margin: float,
                  flat: float | None) -> tuple[float | None, float | None]:
    """Axis limits `margin` (a fraction of the span) beyond the data: textual-plot draws
    the frame over the outermost cells, which hid the last eval point and the highest
    one. All values one value (a constant loss, one point) get `flat` each side (None:
    10% of the value), where textual-plot would make ticks 1e-7 apart and fail on them.
    (None, None) without data."""
    finite = [a[np.isfinite(a)] for a in arrays]
    values = np.concatenate(finite) if finite else np.empty(0)
    if values.size == 0:
        return None, None
    low, high = float(values.min()), float(values.max())
    span = high - low
    if span <= 1e-9 * max(1.0, abs(high)):
        width = flat if flat is not None else max(abs(high) * 0.1, 1e-3)
        return low - width, high + width
    return low - margin * span, high + margin * span


class Chart(PlotWidget, can_focus=False):
    """Draws `Trace`s with at most two points per column (min and max), so the cost of a
    redraw depends on the chart's width, not on the run's length. Not focusable: the
    console's keys (r, arrows) stay the console's, not the plot's pan and zoom."""

    DEFAULT_CSS = "Chart { height: 1fr; min-height: 5; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(allow_pan_and_zoom=False, **kwargs)
        self._drawn: tuple | None = None
        self.traces: tuple[Trace, ...] = ()
        """What the chart shows now, before decimation (for tests and the legend)."""

    def _render_plot(self) -> None:
        """textual-plot's drawing, with each canvas refreshed once at the end: it asks for
        a refresh per pixel set, which was half the cost of a redraw. (A private method
        of textual-plot, pinned to 0.10.)"""
        with ExitStack() as batch:
            for canvas in self.query(Canvas):
                batch.enter_context(canvas.batch_refresh())
            super()._render_plot()

    def on_mount(self) -> None:
        self.margin_top, self.margin_bottom, self.margin_left = 0, 1, 8

    @property
    def columns(self) -> int:
        """Cells across the plotting area (the widget less its y-tick margin)."""
        return max(10, self.size.width - self.margin_left - 2)

    def draw(self, traces: Sequence[Trace], log: bool = False, elapsed: bool = False) -> bool:
        """Replace what is drawn; False (and no widget work) when the decimated points are
        the ones already on screen."""
        columns = self.columns
        drawn = []
        for trace in traces:
            sparse = trace.points and trace.x.size <= columns // POINT_EVERY
            x, y = (trace.x, trace.y) if sparse else decimate(trace.x, trace.y, columns)
            drawn.append((trace, x, log10_positive(y) if log else y))
        key = (columns, self.size.height, log, elapsed,
               tuple((t.label, t.color, t.points, x.tobytes(), y.tobytes())
                     for t, x, y in drawn))
        if key == self._drawn:
            return False
        self._drawn, self.traces = key, tuple(traces)
        self.clear()
        rows = max(2, self.size.height - self.margin_top - self.margin_bottom - 2)
        y_fit, x_fit = max(2, rows // 2), max(2, columns // 8)   # a label every 2 rows, 8 cells
        self.set_y_formatter(LogAxisFormatter(y_fit) if log else FittedNumericFormatter(y_fit))
        self.set_x_formatter(FittedDurationFormatter(x_fit) if elapsed
                             else FittedNumericFormatter(x_fit))
        self.set_xlimits(*padded_limits([x for _, x, _ in drawn], X_MARGIN, 1.0))
        self.set_ylimits(*padded_limits([y for _, _, y in drawn], Y_MARGIN,
                                        0.1 if log else None))
        for trace, x, y in drawn:
            if trace.points and trace.x.size <= columns // POINT_EVERY:
                self.scatter(x, y, marker=POINT, marker_style=trace.color)
            elif trace.points:      # evals too dense for a ● each: dots, two per column
                self.scatter(x, y, marker_style=trace.color, hires_mode=HiResMode.BRAILLE)
            else:
                self.plot(x, y, line_style=trace.color, hires_mode=HiResMode.BRAILLE)
        self._draw_now()
        return True

    def _draw_now(self) -> None:
        """Draw onto the canvases now, not in the widget's next render: that render would
        dirty the canvases after the frame was composed and cost a second frame (the
        whole screen's rows again) for every redraw. Left to render() while the canvases
        await their size (textual-plot's own flags, pinned to 0.10)."""
        if self._needs_canvas_resize or not self.query_one("#plot", Canvas)._canvas_size:
            return
        self._render_plot()
        self._needs_rerender = False
