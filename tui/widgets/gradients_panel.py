"""Gradients: each module's gradient norm, its recent median and trend, and jumps.

The step events already carry the per-module norms; the table makes the
module that blows up visible by name (marked red, with how many times its
median it reached, listed first), where the total norm only says that
something did. Drawn as one Rich text, not a DataTable: every cell changes
at every step, and a DataTable re-rendering a dozen rows cell by cell cost
more per redraw than both charts together.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from tui.grad_norms import JUMP, ModuleNorms
from tui.run_view import RunView
from tui.widgets.curve import blocks
from tui.widgets.text import set_text

TREND_CELLS = 10
NAME_WIDTH = 18
HEADER = f"{'module':<{NAME_WIDTH}} {'|g|':>7} {'median':>7} {'jump':<10} trend"
"""The trend last: where the panel is narrow, it is what is cut."""


NORM_CELLS = 7
"""The |g| and median columns' width."""


def norm_text(value: float, cells: int = NORM_CELLS) -> str:
    """A norm in `cells` at most, 3 significant digits where they fit: `:.3g` writes a
    small one as `1.23e-05` (8), which pushed the median and trend out of their columns;
    here it is `1.23e-5`."""
    text = f"{value:.3g}"
    if len(text) <= cells:
        return text
    for digits in (2, 1, 0):
        mantissa, exponent = f"{value:.{digits}e}".split("e")
        text = f"{mantissa}e{int(exponent)}"
        if len(text) <= cells:
            return text
    return text


def row_text(row: ModuleNorms) -> Text:
    """One module's line; all red and bold while a jump is in view."""
    style = "bold red" if row.jump is not None else ""
    jump = "" if row.jump is None else (
        f"x{'inf' if math.isinf(row.jump) else f'{row.jump:.0f}'} at {row.jump_step}")
    median = "-" if row.median is None else norm_text(row.median)
    text = Text(f"{row.name[:NAME_WIDTH]:<{NAME_WIDTH}} {norm_text(row.last):>7} {median:>7} "
                f"{jump:<10} ", style=style)
    text.append(blocks(list(row.trend), TREND_CELLS), style=style or "green")
    return text


def table(rows: list[ModuleNorms]) -> Text:
    """Header, then jumping modules first, the others in the model's order."""
    text = Text(HEADER, style="bold")
    for row in sorted(rows, key=lambda row: row.jump is None):
        text.append("\n")
        text.append_text(row_text(row))
    return text


def summary(rows: list[ModuleNorms]) -> str:
    jumping = sum(row.jump is not None for row in rows)
    if not rows:
        return "no steps yet"     # one line: set_text keeps the height of a same-shape text
    if not jumping:
        return f"{len(rows)} modules; none above {JUMP:.0f}x its recent median"
    return f"{jumping} jumped over {JUMP:.0f}x their median (red, listed first)"


class GradientsPanel(Vertical):
    BORDER_TITLE = "Gradients"

    def compose(self) -> ComposeResult:
        yield Static("no steps yet", id="grads-summary")
        with VerticalScroll(id="grads-scroll"):
            yield Static("", id="grads-table")

    def refresh_chart(self, view: RunView) -> None:
        """The table (redrawn at the charts' pace: every cell changes at every step)."""
        rows = view.grads.rows()
        set_text(self.query_one("#grads-summary", Static), summary(rows))
        set_text(self.query_one("#grads-table", Static), table(rows) if rows else "")
