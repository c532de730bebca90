"""The console a command's tables print to on standard output."""

from __future__ import annotations

import os

from rich.console import Console

OFF_TERMINAL_WIDTH = 200
"""Columns a table may take when stdout is a file or a pipe. Rich assumes 80 there, which
folded `validate`'s row labels and intervals over several lines in `validate RUN > v.txt`:
a file has no width to respect, and a table kept one row per line is what a note, `grep`
or a diff of two saved tables needs."""


def stdout_console() -> Console:
    """The terminal's width on a terminal, or what `COLUMNS` says (a pipe to a pager of
    that width); OFF_TERMINAL_WIDTH otherwise. Rich's tables take their natural width, so
    narrow ones stay narrow."""
    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console
    return Console(width=OFF_TERMINAL_WIDTH)
