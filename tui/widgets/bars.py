"""Named values in [0, 1] as horizontal bars, largest first, one row each.

Every model output the Try screen draws this way (class probabilities, SURD
shares, intensities) is bounded by 0 and 1, so one scale fits all and the bar
length can be compared across rows. Drawn with Rich text at the widget's width
rather than a ProgressBar per row: a ProgressBar is a progress indicator (ETA,
animation) and a dozen of them per answer would only add widgets.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

FULL, EMPTY = "█", "░"
MISSING = "\n-  not in this model's output"


def titled(title: str, note: str) -> Text:
    """A section title with its marks (untrained, head only) where they cannot be missed."""
    text = Text(title, style="bold")
    if note:
        text.append(f"  {note}", style="yellow")
    return text


def bar_rows(values: dict[str, float], width: int, percent: bool,
             ranked: bool = True) -> list[tuple[str, str, str]]:
    """(label, bar, figure) per value, largest first when `ranked` (else in the model's
    order); the bar fills `width` cells at 1.0."""
    items = sorted(values.items(), key=lambda item: item[1], reverse=True) if ranked \
        else list(values.items())
    rows = []
    for label, value in items:
        filled = round(max(0.0, min(1.0, value)) * width)
        figure = f"{value * 100:5.1f}%" if percent else f"{value:.2f}"
        rows.append((label, FULL * filled + EMPTY * (width - filled), figure))
    return rows


class Bars(Widget):
    """A titled bar list; `note` marks the output (untrained, head only) after the title.
    Distributions read best ranked (the top class first); dimensions with a fixed meaning
    per row (Bentham's seven) read best in their own order."""

    DEFAULT_CSS = "Bars { height: auto; }"
    values: reactive[dict[str, float]] = reactive(dict, layout=True)
    note: reactive[str] = reactive("")

    def __init__(self, title: str, percent: bool = True, ranked: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.percent = percent
        self.ranked = ranked

    def render(self) -> Text:
        text = titled(self.title, self.note)
        if not self.values:
            return text.append(MISSING, style="dim")
        label_width = max(len(label) for label in self.values)
        figure_width = 6 if self.percent else 4
        width = max(4, self.size.width - label_width - figure_width - 2)
        for label, bar, figure in bar_rows(self.values, width, self.percent, self.ranked):
            text.append(f"\n{label:<{label_width}} ")
            text.append(bar, style="green")
            text.append(f" {figure:>{figure_width}}")
        return text
