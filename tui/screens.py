"""Modal screens: help, and what to do with a live run on quit."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static

HELP = """\
# Red Heart console

| key | action |
|---|---|
| `s` | start training (the memory plan runs first) |
| `p` / `r` | pause / resume |
| `x` | stop: checkpoint, then end the run |
| `c` | save a checkpoint now |
| `l` | set the learning rate (type it in the LR box first) |
| `t` | try the run's model on a text (`redheart predict`) |
| `o` | Runs: open another run, mark runs (space) and compare them (`c`), start one (`n`) |
| `enter`, click | toggle the optional module under the cursor |
| `tab` | next control (on small terminals the panel tabs too: left/right) |
| `space`, click | Loss: show/hide the curve under the cursor |
| `left` / `right` | smoothing slider: less / more (TensorBoard's EMA weight) |
| `ctrl+p` | command palette |
| `?` | this help |
| `q` | quit (asks what to do with a live run) |

Charts: log scale, smoothing, a window (all steps or the last N) and steps or
elapsed time on x, in the Loss panel's second row; eval results are points.
A module whose gradient norm jumps over 10x its recent median (on batches of
the same tasks) is red in Gradients. Below 120x32 one panel is shown at a time, with tabs.

The console reads the run only through `events.jsonl` and controls it only
through the run directory's `control` file: attached (`--attach RUN_DIR`, or
`--remote host:RUN_DIR` over your own ssh) it behaves exactly as in process.
Detaching never stops a run.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and notes in Markdown: the console's by default, or those of the screen it
    was opened on (the Runs and Compare screens give their own)."""

    BINDINGS = [("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, text: str = HELP) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        # Scrolls: at 120x40 the table alone is taller than the box (arrows, page keys).
        with VerticalScroll(id="help-box"):
            yield Markdown(self.text)
            yield Button("Close", id="close-help", compact=True)

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss()


class QuitScreen(ModalScreen[str]):
    """Returns "stop", "leave" or "cancel".

    The focus starts on Leave/Detach, the choice that keeps the run: Enter pressed
    out of habit (or after a key lost on the way) must not stop a run."""

    AUTO_FOCUS = "#leave"

    BINDINGS = [("escape", "dismiss('cancel')", "Cancel")]

    def __init__(self, in_process: bool) -> None:
        super().__init__()
        self.in_process = in_process

    def compose(self) -> ComposeResult:
        # Short enough that the three buttons fit the box: a longer label cut itself
        # and pushed Cancel out of sight at 100 and 120 columns.
        leave = ("Leave it training (attach later)" if self.in_process
                 else "Detach (the run goes on)")
        with Vertical(id="quit-box"):
            yield Static("A run is live. What should happen to it?")
            with Horizontal():
                yield Button("Stop it (checkpoint first)", id="stop", variant="error",
                             compact=True)
                yield Button(leave, id="leave", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "cancel")
