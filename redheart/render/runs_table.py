"""Rich rendering of `redheart runs`."""

from __future__ import annotations

import time

from rich import box
from rich.console import Console
from rich.table import Table

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


def print_runs(rows: list[RunSummary], title: str, console: Console | None = None) -> None:
    """One line per run, newest first; a damaged run's problem under the table."""
    if console is None:             # off a terminal (a pipe, a file): one line per run
        console = Console()
        console = console if console.is_terminal else Console(width=200)
    if not rows:
        console.print(f"no run directories in {title}")
        return
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    # Whole names (folded, never cut), to copy into the next command.
    table.add_column("run", overflow="fold", min_width=min(32, max(len(r.name) for r in rows)))
    table.add_column("profile", overflow="fold", min_width=10)
    for name, justify in (("status", "left"), ("step", "right"), ("best eval", "right"),
                          ("samples/s", "right"), ("started", "left"),
                          ("duration", "right"), ("size", "right")):
        table.add_column(name, justify=justify)
    for row in rows:
        table.add_row(row.name, row.profile or "-",
                      f"[{STATUS_STYLES.get(row.status, '')}]{row.status}[/]"
                      if row.status in STATUS_STYLES else row.status,
                      step_text(row), best_text(row), speed_text(row), started_text(row),
                      duration_text(row.duration_s), size_text(row.size_bytes))
    console.print(table)
    for row in rows:
        if row.problem:
            console.print(f"{row.name}: {row.problem}", markup=False, highlight=False)
