"""A one-line curve drawn with block characters, in a single style.

Textual's Sparkline blends a colour per cell; redrawn twice a second for six
curves that showed up in the training thread's throughput, and a curve needs
no gradient to be read.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

BLOCKS = "▁▂▃▄▅▆▇█"


def bucketed(values: list[float], width: int) -> list[float]:
    """Mean of equal slices so the whole history fits the width."""
    if len(values) <= width:
        return list(values)
    step = len(values) / width
    return [sum(chunk) / len(chunk) for i in range(width)
            if (chunk := values[int(i * step):max(int((i + 1) * step), int(i * step) + 1)])]


def blocks(values: list[float], width: int) -> str:
    points = bucketed(values, width)
    if not points:
        return ""
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    return "".join(BLOCKS[min(7, int((v - low) / span * 7.999))] for v in points)


class Curve(Widget):
    DEFAULT_CSS = "Curve { height: 1; }"
    data: reactive[tuple[float, ...]] = reactive(tuple, layout=False)

    def render(self) -> Text:
        return Text(blocks(list(self.data), max(1, self.size.width)), style="green")
