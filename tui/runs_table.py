"""The Runs screen's table: one row of text cells per run (no Textual).

The same figures as `redheart runs` prints (its own formatting functions),
in the columns a person scans for: which run, from which profile, where it
stands, how good, how fast, when, how big.
"""

from __future__ import annotations

from rich.text import Text

from redheart.render.runs_table import (
    STATUS_STYLES,
    best_text,
    duration_text,
    size_text,
    speed_text,
    started_text,
    step_text,
)
from redheart.runs.listing import RunSummary

COLUMNS = ("", "run", "profile", "status", "step", "best eval loss", "samples/s", "started",
           "duration", "size")
MARK = "●"


def cells(row: RunSummary, marked: bool) -> tuple[Text, ...]:
    """The row's cells; a damaged run's status says so, its problem is on the status line
    below the table when the cursor is on it."""
    status = Text(row.status, style=STATUS_STYLES.get(row.status, ""))
    return (Text(MARK if marked else " ", style="bold cyan"), Text(row.name),
            Text(row.profile or "-"), status, Text(step_text(row)), Text(best_text(row)),
            Text(speed_text(row)), Text(started_text(row)), Text(duration_text(row.duration_s)),
            Text(size_text(row.size_bytes)))
