"""A one-row set of named toggles, each in its curve's colour: the chart's legend too.

A Checkbox per curve took 10-12 cells each, and six did not fit the Loss
panel's half of a 120-column terminal; here an item is its mark and its
name, the mark doubles as the legend, and a click (or the cursor and
space) switches it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


@dataclass(frozen=True)
class Item:
    name: str
    mark: str
    color: str


def spans(items: tuple[Item, ...]) -> list[tuple[int, int]]:
    """[start, end) cell range of each item as rendered (`mark name` and two spaces)."""
    out, x = [], 0
    for item in items:
        width = len(item.mark) + 1 + len(item.name)
        out.append((x, x + width))
        x += width + 2
    return out


class Toggles(Widget, can_focus=True):
    DEFAULT_CSS = "Toggles { height: 1; width: 1fr; } Toggles:focus { background: $boost; }"
    BINDINGS = [Binding("left", "cursor(-1)", show=False),
                Binding("right", "cursor(1)", show=False),
                Binding("space,enter", "toggle", "Show/hide", show=False)]
    on: reactive[frozenset[str]] = reactive(frozenset)
    cursor: reactive[int] = reactive(0)

    @dataclass
    class Changed(Message):
        toggles: Toggles
        on: frozenset[str]

    def __init__(self, items: tuple[Item, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.items = items
        self.set_reactive(Toggles.on, frozenset(item.name for item in items))

    def render(self) -> Text:
        text = Text()
        for index, item in enumerate(self.items):
            shown = item.name in self.on
            text.append(item.mark, style=item.color if shown else "dim")
            name_style = "" if shown else "dim strike"
            if self.has_focus and index == self.cursor:
                name_style += " reverse"
            text.append(f" {item.name}", style=name_style.strip())
            text.append("  ")
        return text

    def action_cursor(self, delta: int) -> None:
        self.cursor = (self.cursor + delta) % len(self.items)

    def action_toggle(self) -> None:
        self.flip(self.items[self.cursor].name)

    def on_click(self, event: events.Click) -> None:
        for index, (start, end) in enumerate(spans(self.items)):
            if start <= event.x < end:
                self.cursor = index
                self.flip(self.items[index].name)

    def flip(self, name: str) -> None:
        self.on = self.on ^ {name}
        self.post_message(self.Changed(self, self.on))
