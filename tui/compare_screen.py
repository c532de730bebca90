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
from textual.widgets import DataTable, Header, Select, Static

from redheart.runs.listing import RunSummary
from tui.compare_data import compare_traces, fit_widths, merged_diff, metrics_of, run_color
from tui.layout import WIDE
from tui.messages import CompareLoaded
from tui.run_view import RunView
from tui.runs_source import RunsError, RunsSource
from tui.traces import Trace
from tui.widgets.chart import Chart, legend
from tui.widgets.chart_options import ChartOptions
from tui.widgets.key_footer import KeyFooter
from tui.widgets.text import set_text

REFRESH_S = {False: 10.0, True: 30.0}
"""Seconds between re-reads while a compared run is live, local and over ssh: each reads
every run's whole event stream (seconds for a long run), so less often than the listing."""
HEADER = 12
"""Cells of a run's name kept in its column's header (its colour tells the rest)."""
HELP_MARKDOWN = """\
# Compare

| key | action |
|---|---|
| `esc` | back to the runs |
| `f5` | read the runs again (by itself every 10 s while one is live, 30 s over ssh) |
| `tab` | next control: metric, log, smoothing, window, x axis, the diff |
| `left` / `right` | smoothing slider: less / more |
| `ctrl+p` | command palette |
| `?` | this help |
| `q` | quit |

One colour per run: its training curve as a line, its evals as points. The diff
is `redheart diff`: the first marked run against each other one.
"""
"""What `?` shows on this screen."""
PANEL_CHROME = 4
"""Cells a panel's border and padding take from its width (`.panel` in styles.tcss)."""


class DiffTable(DataTable):
    """The config diff, its columns sized from their content and refitted to the table's
    width whenever that changes: a value is cut only when the runs' values cannot all
    fit side by side, and then the widest are cut alike."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.headers: list[str] = []
        self.diff: list[tuple[str, ...]] = []
        self._fitted_to: int | None = None

    @property
    def natural(self) -> list[int]:
        """Each column's width with nothing cut (a run's name counts up to HEADER)."""
        return [max([len(row[index]) for row in self.diff]
                    + [min(len(header), HEADER) if index else len(header)])
                for index, header in enumerate(self.headers)]

    def natural_width(self) -> int:
        """Cells the whole table takes with nothing cut."""
        return sum(self.natural) + 2 * self.cell_padding * len(self.headers)

    def show(self, headers: list[str], diff: list[tuple[str, ...]]) -> None:
        self.headers, self.diff = headers, diff
        self._fitted_to = None
        self.fit()

    def on_resize(self) -> None:
        self.fit()

    def fit(self) -> None:
        """Columns for the current width (rebuilt only when it changed)."""
        room = self.scrollable_content_region.width
        if not self.headers or room <= 0 or room == self._fitted_to:
            return
        self._fitted_to = room
        row = self.cursor_row
        self.clear(columns=True)
        widths = fit_widths(self.natural, room, 2 * self.cell_padding)
        for index, (header, width) in enumerate(zip(self.headers, widths, strict=True)):
            if index and len(header) > width:      # runs differ at their end (a stamp)
                header = "…" + header[-(width - 1):] if width > 1 else "…"
            self.add_column(Text(header, style=run_color(index - 1) if index else "bold"),
                            width=width)
        for cells in self.diff:
            self.add_row(*cells, key=cells[0])
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1))


class CompareScreen(Screen):
    HELP_MARKDOWN = HELP_MARKDOWN
    BINDINGS = [Binding("escape", "app.pop_screen", "Back to the runs"),
                Binding("f5", "reload", "Reload")]

    def __init__(self, source: RunsSource, runs: list[RunSummary]) -> None:
        super().__init__()
        self.source, self.runs = source, runs
        self.views: dict[str, RunView] = {}
        self._lines: list[Trace] = []
        """The training curves drawn: the legend names them."""
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
                yield DiffTable(id="compare-table")
        yield KeyFooter()

    def on_screen_resume(self) -> None:
        """The console's run controls are off here (App.check_action): the footer must ask
        again once this screen is the one shown."""
        self.refresh_bindings()

    def on_resize(self, event) -> None:
        self.place(event.size.width)
        self.call_after_refresh(self.show_legend)     # the legend's new width, laid out

    def place(self, width: int) -> None:
        """The diff beside the chart from 120 columns when all of it fits in half the
        screen, else under the chart at the full width: beside it at 120 columns, a
        long value (a path) left each run a few cells."""
        needed = self.query_one(DiffTable).natural_width() + PANEL_CHROME
        self.query_one("#compare-body").set_class(
            width < WIDE[0] or needed > width // 2, "stacked")

    def on_mount(self) -> None:
        self.place(self.app.size.width)
        self.query_one("#compare-plot").border_title = "Loss (line: training, ●: eval)"
        self.query_one("#compare-diff").border_title = f"Config diff (vs {self.runs[0].name})"
        self.action_reload()
        self.set_interval(REFRESH_S[self.source.remote], self._reload_while_live)

    def action_reload(self) -> None:
        self.load()

    def _live(self) -> set[str]:
        """Names of the compared runs still training as far as their views know."""
        return {run.name for run in self.runs if run.status == "live"
                and run.name in self.views
                and self.views[run.name].state in ("running", "paused")}

    def _reload_while_live(self) -> None:
        """A live run's curve grows while it is compared: it is read again (and the diffs,
        whose final metrics move with it); an ended run's view is kept as read."""
        if live := self._live():
            self.load(live)

    @work(thread=True, exclusive=True, group="compare")
    def load(self, only: set[str] | None = None) -> None:
        """The runs' events (those named in `only`, else all) and the diffs, off the UI
        thread (a long run is seconds)."""
        try:
            views = {}
            for run in self.runs:
                if only is not None and run.name not in only and run.name in self.views:
                    views[run.name] = self.views[run.name]
                    continue
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
        chosen = metric.value        # a reload keeps the task the user picked
        metric.set_options([(name, name) for name in names])
        metric.value = chosen if chosen in names else names[0]
        self.query_one(DiffTable).show(["key", *(run.name for run in self.runs)],
                                       message.diff)
        self.place(self.size.width)
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
        self._lines = [t for t in traces if not t.points]
        self.show_legend()
        self.query_one(Chart).draw(traces, log=settings.log, elapsed=settings.elapsed)

    def show_legend(self) -> None:
        """Every run's name in the legend, on as many lines as its width needs."""
        if not self.views:
            return
        shown = self.query_one("#compare-legend", Static)
        set_text(shown, legend(self._lines, shown.content_size.width)
                 or "no steps in these runs yet")

    @property
    def diff_rows(self) -> list[tuple[str, ...]]:
        """The diff as shown (for tests): key, then each run's value."""
        table = self.query_one("#compare-table", DataTable)
        return [tuple(str(c) for c in table.get_row(key)) for key in table.rows]

