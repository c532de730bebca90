"""Throughput: samples/s and tokens/s over the run, on a log axis so both fit.

The two differ by the mean sequence length (tens to hundreds of times), so
on a linear axis one of them would be a flat line; a slowdown shows as the
same drop on both.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui.run_view import THROUGHPUT, RunView
from tui.traces import ChartSettings, trace
from tui.widgets.chart import LINE, Chart
from tui.widgets.text import set_text

COLORS = {"samples/s": "#00d7d7", "tokens/s": "#ffaf00"}
SETTINGS = ChartSettings(log=True, smoothing=0.6)


def rate_text(value: float) -> str:
    """3 significant digits with k/M/G: `123k` where `123,456.7` made the header (two
    rates and the note) longer than the panel is wide at 120 columns."""
    if value < 0.01:
        return f"{value:.2g}"
    for unit in ("", "k", "M", "G"):
        if value < 999.5:
            return f"{value:.3g}{unit}"
        value /= 1000
    return f"{value:.3g}T"


def figures(view: RunView) -> Text:
    """The latest figures, each after its line's colour (the chart's legend)."""
    text = Text()
    for name, value in zip(THROUGHPUT, (view.samples_per_s, view.tokens_per_s), strict=True):
        if value is not None:
            text.append(f"{LINE} ", style=COLORS[name])
            text.append(f"{rate_text(value)} {name}  ")
    return text.append("(smoothed, log axis)", style="dim") if text else Text("no steps yet")


class ThroughputPanel(Vertical):
    BORDER_TITLE = "Throughput"

    def compose(self) -> ComposeResult:
        yield Static("no steps yet", id="throughput-figures")
        yield Chart(id="throughput-chart")

    def show(self, view: RunView) -> None:
        """The figures (the chart is redrawn by `refresh_chart`, at its own pace)."""
        set_text(self.query_one("#throughput-figures", Static), figures(view))

    def refresh_chart(self, view: RunView) -> None:
        traces = [trace(name, view.throughput[name], COLORS[name], SETTINGS,
                        t0=view.opened_at) for name in THROUGHPUT if name in view.throughput]
        self.query_one(Chart).draw(traces, log=True)
