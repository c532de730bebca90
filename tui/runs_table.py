"""The Runs screen's table: one row of text cells per run (no Textual).

The same figures as `redheart runs` prints (its own formatting functions),
in the columns a person scans for: which run, from which profile, where it
stands, how good, how fast, when, how big.
"""

from __future__ import annotations

import time

from rich.text import Text

from redheart.render.runs_table import STATUS_STYLES, duration_text, size_text
from redheart.render.runs_table import _best as best_text
from redheart.render.runs_table import _step as step_text
from redheart.runs.listing import RunSummary

COLUMNS = ("", "run", "profile", "status", "step", "best eval loss", "samples/s", "started",
           "duration", "size")
MARK = "●"


def started_text(started_at: float | None) -> str:
    return "-" if started_at is None else time.strftime("%Y-%m-%d %H:%M",
                                                        time.localtime(started_at))


def cells(row: RunSummary, marked: bool) -> tuple[Text, ...]:
    """The row's cells; a damaged run's status says so, its problem is on the status line
    below the table when the cursor is on it."""
    status = Text(row.status, style=STATUS_STYLES.get(row.status, ""))
    speed = "-" if row.samples_per_s is None else f"{row.samples_per_s:.1f}"
    return (Text(MARK if marked else " ", style="bold cyan"), Text(row.name),
            Text(row.profile or "-"), status, Text(step_text(row)), Text(best_text(row)),
            Text(speed), Text(started_text(row.started_at)), Text(duration_text(row.duration_s)),
            Text(size_text(row.size_bytes)))
