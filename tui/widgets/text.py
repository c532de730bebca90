"""Updating a panel's text without needless redraws."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def set_text(widget: Static, text: str | Text) -> None:
    """Update only on change, and without a new layout when the line count is the same:
    a relayout redraws every widget on screen, and each redraw costs the training thread
    (the GIL, and on a small machine its cores)."""
    shown = getattr(widget, "_shown", None)
    if shown != text:
        widget._shown = text  # type: ignore[attr-defined]
        same_shape = shown is not None and str(shown).count("\n") == str(text).count("\n")
        widget.update(text, layout=not same_shape)
