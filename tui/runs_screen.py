"""Runs: every run under the runs root, newest first, its status kept current.

Where the console opens when it is given no profile. From here a run is
opened (followed while it is live, replayed when it has ended: one code
path, the event stream), a new one is started from a profile, and two or
more marked runs are compared. The listing is re-read every few seconds in
a worker; rows are updated in place so the cursor and marks stay put.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from redheart.runs.listing import SORTS, RunSummary, sort_runs
from tui.compare_screen import CompareScreen
from tui.messages import RunsListed
from tui.runs_source import RunsError, RunsSource
from tui.runs_table import COLUMNS, cells, shown_columns
from tui.widgets.key_footer import KeyFooter
from tui.widgets.text import set_text

REFRESH_S = {False: 2.0, True: 5.0}
"""Seconds between listings, local and over ssh (each is an ssh round trip there)."""
HELP = ("enter open (live or replay) · space mark · c compare marked · b best first · "
        "n new run · esc console · q quit")
"""One line at 120 columns; the footer names the same keys at any width."""
HELP_MARKDOWN = """\
# Runs

| key | action |
|---|---|
| `enter`, click | open the run under the cursor (followed while live, replayed when ended) |
| `space` | mark / unmark it |
| `c` | compare the marked runs (their curves and config diff) |
| `b` | order by best eval loss (the winner first, runs not evaluated last); again: newest first |
| `n` | start a new run from a profile, into this folder |
| `esc` | back to the console |
| `ctrl+p` | command palette |
| `?` | this help |
| `q` | quit |

Rows are re-read every 2 seconds (5 over ssh), as `redheart runs` lists them.
"""
"""What `?` shows here: this screen's keys (the console's help said `c` saves a
checkpoint, which here compares)."""


class RunsScreen(Screen):
    HELP_MARKDOWN = HELP_MARKDOWN
    BINDINGS = [Binding("enter", "open_run", "Open", priority=True),
                Binding("space", "mark", "Mark"),
                Binding("c", "compare", "Compare"),
                Binding("b", "sort", "Best first"),
                Binding("n", "new_run", "New run"),
                Binding("escape", "back", "Console"),
                Binding("q", "app.quit_console", "Quit")]

    def __init__(self, source: RunsSource) -> None:
        super().__init__()
        self.source = source
        self.runs: dict[str, RunSummary] = {}
        self.marked: list[str] = []
        """Marked runs' paths, in the order marked (the first is the diff's reference)."""
        self.shown: list[str] = list(COLUMNS)
        """The columns on screen: those that fit its width (runs_table.shown_columns)."""
        self.sort = SORTS[0]
        """Row order, one of redheart.runs.listing.SORTS (b cycles): picking a sweep's
        winner by eye out of a dozen best losses misreads them."""
        self.sub_title = f"runs in {source.label}"

    def compose(self) -> ComposeResult:
        yield Header()
        table = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        for name in COLUMNS:
            table.add_column(name, key=name or "mark")
        yield table
        yield Static(f"reading {self.source.label}...", id="runs-status")
        yield Static(HELP, id="runs-help")
        yield KeyFooter()

    def on_screen_resume(self) -> None:
        """The console's run controls are off here (App.check_action): the footer must ask
        again once this screen is the one shown."""
        self.refresh_bindings()

    def on_mount(self) -> None:
        self.refresh_runs()
        self.set_interval(REFRESH_S[self.source.remote], self.refresh_runs)

    @work(thread=True, exclusive=True, group="runs")
    def refresh_runs(self) -> None:
        try:
            self.post_message(RunsListed(self.source.runs()))
        except RunsError as exc:
            self.post_message(RunsListed([], str(exc)))

    def on_runs_listed(self, message: RunsListed) -> None:
        if message.error:
            set_text(self.query_one("#runs-status", Static), f"error: {message.error}")
            return
        self.runs = {str(run.path): run for run in sort_runs(message.runs, self.sort)}
        self.marked = [path for path in self.marked if path in self.runs]
        table = self.query_one(DataTable)
        keys = list(self.runs)
        shown = self._fitting_columns()
        if [str(key.value) for key in table.rows] != keys or shown != self.shown:
            self._rebuild(shown)
        else:
            for key, run in self.runs.items():
                self._update_row(key, run)
        self._show_status()

    def _fitting_columns(self) -> list[str]:
        if self.size.width <= 0:          # not laid out yet: no width to fit
            return self.shown
        rows = [cells(run, key in self.marked) for key, run in self.runs.items()]
        return shown_columns(rows, self.size.width - 2)   # the vertical scrollbar's room

    def _rebuild(self, shown: list[str]) -> None:
        """Every row again, under the columns `shown` (the cursor stays on its run)."""
        table = self.query_one(DataTable)
        current = self.current
        if shown != self.shown:
            table.clear(columns=True)
            for name in shown:
                table.add_column(name, key=name or "mark")
            self.shown = shown
        else:
            table.clear()
        for key, run in self.runs.items():
            table.add_row(*self._cells(key, run), key=key)
        if current is not None and current in self.runs:
            table.move_cursor(row=list(self.runs).index(current))

    def _cells(self, key: str, run: RunSummary) -> list:
        row = cells(run, key in self.marked)
        return [cell for name, cell in zip(COLUMNS, row, strict=True) if name in self.shown]

    def on_resize(self) -> None:
        if self.runs and (shown := self._fitting_columns()) != self.shown:
            self._rebuild(shown)
            self._show_status()

    def _update_row(self, key: str, run: RunSummary) -> None:
        table = self.query_one(DataTable)
        for column, value in zip(self.shown, self._cells(key, run), strict=True):
            column_key = column or "mark"
            if table.get_cell(key, column_key) != value:
                # the column widens with its cell: a live run's size going from 99.9M to
                # 100.2M lost its unit, the step 9/30 to 10/30 its last digit
                table.update_cell(key, column_key, value, update_width=True)

    @property
    def current(self) -> str | None:
        """The path of the run under the cursor."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_status()

    def _show_status(self) -> None:
        if not self.runs:
            text = f"no run directories in {self.source.label} (n starts one)"
        else:
            run = self.runs.get(self.current or "")
            text = f"{len(self.runs)} runs in {self.source.label}"
            if self.marked:
                text += f"; {len(self.marked)} marked"
            if self.sort != SORTS[0]:
                text += f"; sorted by {self.sort} eval loss (b: {self._next_sort()} first)"
            if hidden := [name for name in COLUMNS if name not in self.shown]:
                text += (f"; {', '.join(hidden)} left out at {self.size.width} columns "
                         f"(redheart runs --json has them)")
            if run is not None:
                text += f"\n{run.path}" + (f": {run.problem}" if run.problem else "")
        set_text(self.query_one("#runs-status", Static), text)

    def _next_sort(self) -> str:
        return SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]

    def action_sort(self) -> None:
        """Newest first, or the best eval loss first (runs not evaluated yet last), as
        `redheart runs --sort` orders them."""
        self.sort = self._next_sort()
        self.runs = {str(run.path): run for run in sort_runs(list(self.runs.values()),
                                                              self.sort)}
        self._rebuild(self.shown)
        self._show_status()

    def action_mark(self) -> None:
        key = self.current
        if key is None:
            return
        if key in self.marked:
            self.marked.remove(key)
        else:
            self.marked.append(key)
        self._update_row(key, self.runs[key])
        self._show_status()

    def action_compare(self) -> None:
        if len(self.marked) < 2:
            self.app.notify("mark two or more runs with space, then press c", severity="warning")
            return
        self.app.push_screen(CompareScreen(self.source, [self.runs[p] for p in self.marked]))

    def action_open_run(self) -> None:
        run = self.runs.get(self.current or "")
        if run is None:
            return
        if run.status == "damaged":
            self.app.notify(f"{run.name}: {run.problem}", severity="error")
            return
        self.app.open_run(self.source, str(run.path))  # type: ignore[attr-defined]

    def action_new_run(self) -> None:
        if self.source.remote:
            self.app.notify("new runs start on this machine: run redheart-tui PROFILE on "
                            f"{self.source.label.split(':')[0]}, or redheart run there",
                            severity="warning")
            return
        from tui.new_run_screen import NewRunScreen

        def chosen(profile: Path | None) -> None:
            if profile is not None:
                self.app.new_run(profile, Path(self.source.label))  # type: ignore[attr-defined]

        self.app.push_screen(NewRunScreen(), chosen)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
