"""Rich rendering of `redheart runs`."""

from __future__ import annotations

import time

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from redheart.render.stdout_console import stdout_console
from redheart.runs.listing import RunSummary

STATUS_STYLES = {"live": "bold green", "stopped": "yellow", "failed": "red", "killed": "red",
                 "damaged": "magenta"}


def duration_text(seconds: float | None) -> str:
    """`1:02:03` (h:mm:ss), `4d 3:00:00` beyond a day."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


def size_text(size: int) -> str:
    """Bytes in the largest binary unit that keeps the number below 1024 (`115.1M`)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f}{unit[0]}" if unit == "B" else f"{value:.1f}{unit[0]}"
        value /= 1024
    return f"{value:.1f}T"


def step_text(row: RunSummary) -> str:
    if row.step is None:
        return "-"
    return f"{row.step}/{row.total_steps}" if row.total_steps else str(row.step)


def best_text(row: RunSummary) -> str:
    if row.best_loss is None:
        return "-"
    return f"{row.best_loss:.4f} @ {row.best_step}" if row.best_step is not None \
        else f"{row.best_loss:.4f}"


def speed_text(row: RunSummary) -> str:
    return "-" if row.samples_per_s is None else f"{row.samples_per_s:,.1f}"


def started_text(row: RunSummary) -> str:
    """Month, day and time: the year would widen the console's table past 120 columns."""
    return "-" if row.started_at is None else time.strftime("%m-%d %H:%M",
                                                            time.localtime(row.started_at))


COLUMNS: tuple[tuple[str, str], ...] = (
    ("run", "left"), ("profile", "left"), ("status", "left"), ("step", "right"),
    ("best eval", "right"), ("samples/s", "right"), ("started", "left"),
    ("duration", "right"), ("size", "right"))
"""Every column of the listing, in the order shown."""

ESSENTIAL = ("run", "status", "step", "best eval")
"""Always shown, and never cut: what a listing is read for (which run, is it alive, how
far, how good)."""

OPTIONAL = ("duration", "samples/s", "started", "size", "profile")
"""Shown in this order of preference as far as the terminal's width allows; `--json`
keeps them all. The profile is the first to go: it is the run name's own prefix
(`<name>-<timestamp>`)."""


def _cells(row: RunSummary) -> dict[str, str]:
    status = (f"[{STATUS_STYLES[row.status]}]{row.status}[/]" if row.status in STATUS_STYLES
              else row.status)
    return {"run": row.name, "profile": row.profile or "-", "status": status,
            "step": step_text(row), "best eval": best_text(row), "samples/s": speed_text(row),
            "started": started_text(row), "duration": duration_text(row.duration_s),
            "size": size_text(row.size_bytes)}


def _table(rows: list[RunSummary], title: str, shown: list[str],
           run_width: int | None = None) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for name, justify in COLUMNS:
        if name not in shown:
            continue
        if name == "run":
            # Whole names, to copy into the next command: folded (never cut with an
            # ellipsis) in the one case they do not fit beside the other essential columns.
            table.add_column(name, overflow="fold", width=run_width,
                             min_width=None if run_width else min(32, max(len(r.name)
                                                                          for r in rows)))
        else:
            table.add_column(name, justify=justify, no_wrap=True)
    for row in rows:
        cells = _cells(row)
        table.add_row(*(cells[name] for name, _ in COLUMNS if name in shown))
    return table


def _natural_width(console: Console, table: Table) -> int:
    """The width the table takes with every cell on one line (`console.measure` clamps its
    answer to the console's width, which would say everything fits)."""
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def print_runs(rows: list[RunSummary], title: str, console: Console | None = None) -> None:
    """One line per run, newest first; a damaged run's problem under the table.

    On a narrow terminal whole columns are left out (OPTIONAL) rather than every column
    squeezed: Rich shrinks all of them, which cut `finished` to `finis…`, the step to
    `300/3…` and stacked `1.2346 @ 11000` on three lines at 80 columns."""
    if console is None:             # off a terminal (a pipe, a file): one line per run
        console = stdout_console()
    if not rows:
        console.print(f"no run directories in {title}")
        return
    shown = list(ESSENTIAL)
    for name in OPTIONAL:         # each one that still fits, in order of preference
        if _natural_width(console, _table(rows, title, [*shown, name])) <= console.width:
            shown.append(name)
    dropped = [name for name, _ in COLUMNS if name not in shown]
    table = _table(rows, title, shown)
    excess = _natural_width(console, table) - console.width
    if excess > 0:                # the essential columns alone are too wide: fold the names
        longest = max(len(row.name) for row in rows)
        table = _table(rows, title, shown, run_width=max(10, longest - excess))
    console.print(table)
    if dropped:
        console.print(f"({', '.join(dropped)} left out at {console.width} columns; a wider "
                      f"terminal or --json shows them)", markup=False, highlight=False)
    for row in rows:
        if row.problem:
            console.print(f"{row.name}: {row.problem}", markup=False, highlight=False)
