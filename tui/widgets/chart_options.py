"""The row of chart settings: log scale, smoothing, window, x axis.

One widget for the Loss panel and the Compare view, so both read the same
and a setting means the same in each. It owns a `ChartSettings` and posts
it whenever the user changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Checkbox, Select

from tui.traces import WINDOWS, ChartSettings
from tui.widgets.slider import Slider

AXES = (("x step", False), ("x time", True))


class ChartOptions(Horizontal):
    DEFAULT_CSS = """
    ChartOptions { height: 1; }
    ChartOptions > * { margin-right: 1; }
    ChartOptions Checkbox { width: auto; }
    ChartOptions #window { width: 14; }
    ChartOptions #axis { width: 11; }
    ChartOptions Slider { width: 1fr; max-width: 36; min-width: 16; }
    """

    @dataclass
    class Changed(Message):
        options: ChartOptions
        settings: ChartSettings

    def __init__(self, settings: ChartSettings | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.settings = settings or ChartSettings()

    def compose(self) -> ComposeResult:
        yield Checkbox("log", value=self.settings.log, id="log", compact=True)
        yield Slider("smooth", self.settings.smoothing, id="smoothing")
        yield Select([(label, index) for index, (label, _) in enumerate(WINDOWS)],
                     value=next(i for i, (_, n) in enumerate(WINDOWS)
                                if n == self.settings.window),
                     allow_blank=False, compact=True, id="window")
        yield Select([(label, index) for index, (label, _) in enumerate(AXES)],
                     value=int(self.settings.elapsed), allow_blank=False, compact=True,
                     id="axis")

    def _update(self, **changes) -> None:
        settings = replace(self.settings, **changes)
        if settings != self.settings:
            self.settings = settings
            self.post_message(self.Changed(self, settings))

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._update(log=event.value)

    def on_slider_changed(self, event: Slider.Changed) -> None:
        event.stop()
        self._update(smoothing=event.value)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id == "window":
            self._update(window=WINDOWS[int(event.value)][1])
        else:
            self._update(elapsed=AXES[int(event.value)][1])
