"""The Runs screen's table: one row of text cells per run (no Textual).

The same figures as `redheart runs` prints (its own formatting functions),
in the columns a person scans for: which run, from which profile, where it
stands, how good, how fast, when, how big.
"""

from __future__ import annotations

from rich.text import Text

from redheart.render.runs_table import (
    OPTIONAL,
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
ESSENTIAL = ("", "run", "status", "step", "best eval loss")
"""Always shown: the mark, and what a listing is read for (which run, alive, how far, how
good). The others come and go in `redheart runs`' order of preference (OPTIONAL): at 80
columns every column side by side put duration and size past the right edge, cut with no
sign that they were there."""
PADDING = 2
"""Cells a DataTable column takes beside its text (cell_padding 1 each side)."""


def shown_columns(rows: list[tuple[Text, ...]], width: int) -> list[str]:
    """The columns (in COLUMNS order) that fit `width` cells: the essential ones always,
    then each optional one that still fits, in order of preference."""
    natural = {name: max([len(name), *(row[i].cell_len for row in rows)]) + PADDING
               for i, name in enumerate(COLUMNS)}
    shown = list(ESSENTIAL)
    for name in OPTIONAL:
        if sum(natural[n] for n in shown) + natural[name] <= width:
            shown.append(name)
    return [name for name in COLUMNS if name in shown]


def cells(row: RunSummary, marked: bool) -> tuple[Text, ...]:
    """The row's cells; a damaged run's status says so, its problem is on the status line
    below the table when the cursor is on it."""
    status = Text(row.status, style=STATUS_STYLES.get(row.status, ""))
    return (Text(MARK if marked else " ", style="bold cyan"), Text(row.name),
            Text(row.profile or "-"), status, Text(step_text(row)), Text(best_text(row)),
            Text(speed_text(row)), Text(started_text(row)), Text(duration_text(row.duration_s)),
            Text(size_text(row.size_bytes)))
