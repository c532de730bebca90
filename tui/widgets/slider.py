"""A one-row slider for the smoothing weight, as TensorBoard has one.

Textual has no slider; an Input would make the user type 0.6 and press enter
to see the curve change. Left/right (or a click on the track) move it by a
step and the charts follow at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

TRACK, KNOB, FILLED = "─", "●", "━"


def knob_cell(value: float, low: float, high: float, cells: int) -> int:
    """Cell of the knob on a track of `cells` (0 at `low`, cells-1 at `high`)."""
    return round((value - low) / (high - low) * (cells - 1))


def value_at(cell: int, low: float, high: float, cells: int, step: float) -> float:
    """The value under a track cell, on the slider's step grid."""
    raw = low + (high - low) * min(max(cell, 0), cells - 1) / max(cells - 1, 1)
    return round(round(raw / step) * step, 6)


class Slider(Widget, can_focus=True):
    DEFAULT_CSS = """
    Slider { height: 1; width: 36; }
    Slider:focus { background: $boost; }
    """
    BINDINGS = [Binding("left,minus", "move(-1)", "Less", show=False),
                Binding("right,plus", "move(1)", "More", show=False),
                Binding("home", "move(-1000)", show=False),
                Binding("end", "move(1000)", show=False)]
    value: reactive[float] = reactive(0.0)

    @dataclass
    class Changed(Message):
        slider: Slider
        value: float

    def __init__(self, label: str, value: float, low: float = 0.0, high: float = 0.99,
                 step: float = 0.05, **kwargs) -> None:
        super().__init__(**kwargs)
        self.label, self.low, self.high, self.step = label, low, high, step
        self.set_reactive(Slider.value, value)

    @property
    def _cells(self) -> int:
        """Track length: the width less the label and the figure."""
        return max(5, self.size.width - len(self.label) - 7)

    def render(self) -> Text:
        cells = self._cells
        knob = knob_cell(self.value, self.low, self.high, cells)
        text = Text(f"{self.label} ")
        text.append(FILLED * knob, style="bold")
        text.append(KNOB, style="bold")
        text.append(TRACK * (cells - knob - 1), style="dim")
        text.append(f" {self.value:.2f}")
        return text

    def action_move(self, steps: int) -> None:
        self._set(self.value + steps * self.step)

    def on_click(self, event: events.Click) -> None:
        cell = event.x - len(self.label) - 1
        if 0 <= cell < self._cells:
            self._set(value_at(cell, self.low, self.high, self._cells, self.step))

    def _set(self, value: float) -> None:
        value = round(min(max(value, self.low), self.high), 6)
        if value != self.value:
            self.value = value
            self.post_message(self.Changed(self, value))
