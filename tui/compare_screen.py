"""Compare: two or more runs' curves on one pair of axes, and how their configs differ.

Each run is read whole once (its events folded into a RunView, as an
attached console would), in a worker; the chart then redraws from those
views as the settings change. The diff beside it is `redheart diff`'s, the
first marked run against each other one.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Select, Static

from redheart.runs.listing import RunSummary
from tui.compare_data import compare_traces, merged_diff, metrics_of, run_color
from tui.layout import WIDE
from tui.messages import CompareLoaded
from tui.run_view import RunView
from tui.runs_source import RunsError, RunsSource
from tui.widgets.chart import Chart, legend
from tui.widgets.chart_options import ChartOptions
from tui.widgets.text import set_text

KEY_WIDEST, VALUE_WIDEST = 28, 18
"""Cells the key column and a run's column take at most: three runs' values side by side
in half a 120-column screen (a long path is cut; `redheart diff` prints it whole)."""
HEADER = 12
"""Cells of a run's name kept in its column's header (its colour tells the rest)."""


class CompareScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back to the runs"),
                Binding("f5", "reload", "Reload")]

    def __init__(self, source: RunsSource, runs: list[RunSummary]) -> None:
        super().__init__()
        self.source, self.runs = source, runs
        self.views: dict[str, RunView] = {}
        self.sub_title = "compare " + ", ".join(run.name for run in runs)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="compare-body"):
            with Vertical(id="compare-plot", classes="panel"):
                yield ChartOptions(id="compare-options")
                with Horizontal(id="compare-controls"):
                    yield Select([("total", "total")], value="total", allow_blank=False,
                                 compact=True, id="compare-metric")
                    yield Static(f"reading {len(self.runs)} runs...", id="compare-legend")
                yield Chart(id="compare-chart")
            with Vertical(id="compare-diff", classes="panel"):
                yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_screen_resume(self) -> None:
        """The console's run controls are off here (App.check_action): the footer must ask
        again once this screen is the one shown."""
        self.refresh_bindings()

    def on_resize(self, event) -> None:
        """Below 120 columns the diff goes under the chart: side by side, neither fits."""
        self.query_one("#compare-body").set_class(event.size.width < WIDE[0], "stacked")

    def on_mount(self) -> None:
        self.query_one("#compare-body").set_class(self.app.size.width < WIDE[0], "stacked")
        self.query_one("#compare-plot").border_title = "Loss (line: training, ●: eval)"
        self.query_one("#compare-diff").border_title = f"Config diff (vs {self.runs[0].name})"
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="compare")
    def load(self) -> None:
        """Every run's events and the diffs, off the UI thread (a long run is seconds)."""
        try:
            views = {}
            for run in self.runs:
                view = RunView(run_dir=str(run.path))
                view.apply(self.source.events(str(run.path)))
                views[run.name] = view
            first = str(self.runs[0].path)
            diff = merged_diff([self.source.diff(first, str(run.path))
                                for run in self.runs[1:]])
        except RunsError as exc:
            self.post_message(CompareLoaded({}, [], str(exc)))
            return
        self.post_message(CompareLoaded(views, diff))

    def on_compare_loaded(self, message: CompareLoaded) -> None:
        if message.error:
            set_text(self.query_one("#compare-legend", Static), f"error: {message.error}")
            return
        self.views = message.views
        metric = self.query_one("#compare-metric", Select)
        names = metrics_of(self.views) or ["total"]
        metric.set_options([(name, name) for name in names])
        metric.value = names[0]
        table = self.query_one("#compare-table", DataTable)
        table.clear(columns=True)
        for index, header in enumerate(("key", *(run.name for run in self.runs))):
            values = max((len(row[index]) for row in message.diff), default=3)
            width = min(VALUE_WIDEST if index else KEY_WIDEST,
                        max(values, min(len(header), HEADER)))
            if index and len(header) > width:      # runs differ at their end (a stamp)
                header = "…" + header[-(width - 1):]
            table.add_column(Text(header, style=run_color(index - 1) if index else "bold"),
                             width=width)
        for row in message.diff:
            table.add_row(*row, key=row[0])
        self.redraw()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "compare-metric":
            self.redraw()

    def on_chart_options_changed(self, event: ChartOptions.Changed) -> None:
        event.stop()
        self.redraw()

    def redraw(self) -> None:
        if not self.views:
            return
        settings = self.query_one(ChartOptions).settings
        metric = str(self.query_one("#compare-metric", Select).value)
        traces = compare_traces(self.views, metric, settings)
        set_text(self.query_one("#compare-legend", Static), legend(
            [t for t in traces if not t.points]) or "no steps in these runs yet")
        self.query_one(Chart).draw(traces, log=settings.log, elapsed=settings.elapsed)

    @property
    def diff_rows(self) -> list[tuple[str, ...]]:
        """The diff as shown (for tests): key, then each run's value."""
        table = self.query_one("#compare-table", DataTable)
        return [tuple(str(c) for c in table.get_row(key)) for key in table.rows]

