"""Run: start / pause / resume / stop / save now / set LR, checkpoints, warnings."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, RichLog, Static

from tui.run_view import RunView
from tui.widgets.text import set_text

SHOWN = 4
"""Checkpoint steps listed (the newest): two lines in all, so the warnings and errors
below keep their rows in the panel's quarter of the screen."""


def checkpoints_text(view: RunView) -> str:
    """`checkpoints: step 15*, 20, 25, 30` and `best (*): step 15  in FOLDER`."""
    best = view.best_checkpoint()
    shown = view.checkpoints[-SHOWN:]
    if best is not None and best not in shown:     # the best stays listed, first
        shown = [best, *shown[1:]]
    steps = ", ".join(f"{c.step}{'*' if c.best else ''}" for c in shown)
    folder = Path(view.checkpoints[-1].path).parent
    return (f"checkpoints: step {steps}\n"
            + (f"best (*): step {best.step}" if best else "best: none yet") + f"  in {folder}")


class RunPanel(Vertical):
    BORDER_TITLE = "Run"

    def compose(self) -> ComposeResult:
        with Horizontal(id="run-buttons"):
            yield Static("idle", id="run-state")
            yield Button("Start", id="start", variant="success", compact=True)
            yield Button("Pause", id="pause", compact=True)
            yield Button("Resume", id="resume", compact=True)
            yield Button("Stop", id="stop", variant="error", compact=True)
            yield Button("Save", id="save-now", compact=True)
        with Horizontal(id="lr-row"):
            lr = Input(placeholder="new LR, e.g. 3e-4", id="lr-input", compact=True)
            lr.cursor_blink = False        # a blinking cursor is a redraw twice a second
            yield lr
            yield Button("Set LR", id="set-lr", compact=True)
        yield Static("no checkpoints yet", id="checkpoints")
        yield RichLog(id="messages", max_lines=200, wrap=True, markup=False)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = {"start": "start", "pause": "pause", "resume": "resume", "stop": "stop",
                  "save-now": "save_now", "set-lr": "set_lr"}[event.button.id or ""]
        await self.app.run_action(action)      # a coroutine: not awaited, it never runs

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the LR box sets it, as the Set LR button does."""
        event.stop()
        await self.app.run_action("set_lr")

    def show(self, view: RunView, source: str | None) -> None:
        set_text(self.query_one("#run-state", Static), view.state)
        if self.border_subtitle != (source or ""):     # a new subtitle is a repaint
            self.border_subtitle = source or ""
        if view.checkpoints:
            set_text(self.query_one("#checkpoints", Static), checkpoints_text(view))

    def reset(self) -> None:
        """Another run is about to be shown: none of this one's checkpoints or messages."""
        set_text(self.query_one("#checkpoints", Static), "no checkpoints yet")
        self.query_one(RichLog).clear()

    def log(self, level: str, text: str) -> None:
        self.query_one(RichLog).write(f"{level}: {text}")
