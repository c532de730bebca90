"""Try: type a text, see what the run's model predicts for it.

The predictions come from `redheart predict MODEL --json --file -` kept running
between questions (see `tui.predict_client`), so the console stays free of
torch and an attached or remote console asks the machine that holds the
checkpoints. MODEL is the run directory by default (predict takes its best
checkpoint, else the last) or a checkpoint picked from the ones the run's
events announced; picking another one restarts the process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Header, Input, Label, Select, Static

from tui.messages import PredictionFailed, PredictionReady
from tui.predict_client import PredictClient, PredictError, PredictTarget
from tui.run_view import Checkpoint
from tui.widgets.key_footer import KeyFooter
from tui.widgets.prediction_view import PredictionView

OPTIONS_REFRESH_S = 1.0
"""New checkpoints of a live run reach the picker within a second."""
NO_RUN = ("no run yet: start one with s (or open redheart-tui --attach RUN_DIR); "
          "predictions need a checkpoint of a run")


def model_options(target: PredictTarget,
                  checkpoints: list[Checkpoint]) -> list[tuple[str, str]]:
    """(label, MODEL) for the picker: the run directory first, then its checkpoints that
    are still on disk, newest first, the best marked."""
    options = [(f"run directory: best, else last ({target.run_dir})", target.run_dir)]
    seen: set[str] = set()
    for checkpoint in reversed(checkpoints):
        name = checkpoint.path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        if name in seen or not target.present(name):
            continue
        seen.add(name)
        best = "  (best)" if checkpoint.best else ""
        options.append((f"step {checkpoint.step}{best}  {name}", target.checkpoint(name)))
    return options


class TryScreen(Screen[None]):
    """Escape returns to the panels and ends the predictor process."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, find_target: Callable[[], PredictTarget | None]) -> None:
        super().__init__()
        self.find_target = find_target
        """Asked each time: in profile mode the run appears only once it starts."""
        self.client: PredictClient | None = None
        self.last_text: str | None = None
        self._options: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="try-model-row"):
            yield Label("model ", id="try-model-label")
            yield Select([], allow_blank=True, prompt="no checkpoint yet", id="try-model",
                         compact=True)
        yield Input(placeholder="type a text and press enter", id="try-input")
        yield Static("", id="try-status")
        yield PredictionView(id="try-result")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.refresh_options()
        self.set_interval(OPTIONS_REFRESH_S, self.refresh_options)
        self.query_one("#try-input", Input).focus()
        self.set_status(self.unavailable() or "type a text and press enter; the first answer "
                        "loads the model (a few seconds)")

    def on_unmount(self) -> None:
        self.close_client()

    # ---------------------------------------------------------------- state

    @property
    def target(self) -> PredictTarget | None:
        return self.find_target()

    def checkpoints(self) -> list[Checkpoint]:
        return list(self.app.view.checkpoints)  # type: ignore[attr-defined]

    def unavailable(self) -> str | None:
        """Why nothing can be predicted now, or None."""
        target = self.target
        if target is None:
            return NO_RUN
        if not self.checkpoints():
            return (f"no checkpoint yet in {target.run_dir}: predictions start once "
                    f"the run saves one (c saves one now)")
        return None

    def refresh_options(self) -> None:
        target = self.target
        if target is None or not self.checkpoints():
            return
        options = model_options(target, self.checkpoints())
        if options == self._options:
            return
        self._options = options
        select = self.query_one("#try-model", Select)
        keep = select.value if not select.is_blank() else target.run_dir
        with select.prevent(Select.Changed):
            select.set_options(options)
            select.value = keep if any(value == keep for _, value in options) \
                else target.run_dir

    def picked_model(self) -> str | None:
        target = self.target
        if target is None:
            return None
        select = self.query_one("#try-model", Select)
        return target.run_dir if select.is_blank() else str(select.value)

    def set_status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#try-status", Static)
        status.update(text)
        status.set_class(error, "error")

    def close_client(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()

    # ------------------------------------------------------------ questions

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.set_status("type a text first", error=True)
            return
        self.last_text = text
        self.ask_current(text)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        model = self.picked_model()
        if self.client is not None and self.client.model != model:
            self.close_client()                 # another checkpoint: another process
        if self.last_text is not None and self.client is None:
            self.ask_current(self.last_text)

    def ask_current(self, text: str) -> None:
        reason = self.unavailable()
        target, model = self.target, self.picked_model()
        if reason is not None or model is None or target is None:
            self.set_status(reason or NO_RUN, error=True)
            return
        if self.client is None:
            self.client = PredictClient(model, target.command(model))
        if self.client.answered:
            self.set_status(f"predicting with {model} ...")
        else:
            self.set_status(f"loading the model from {model} (a few seconds before the "
                            f"first answer) ...")
        self.ask(self.client, text)

    @work(thread=True, group="predict")
    def ask(self, client: PredictClient, text: str) -> None:
        try:
            result = client.ask(text)
        except PredictError as exc:
            self.post_message(PredictionFailed(client, str(exc)))
            return
        self.post_message(PredictionReady(client, result))

    def on_prediction_ready(self, message: PredictionReady) -> None:
        if message.client is not self.client:
            return                              # from a process since replaced
        result: dict[str, Any] = message.result
        if "error" in result:
            self.set_status(f"error: {result['error']}", error=True)
            return
        self.query_one(PredictionView).show(result)
        self.set_status("type another text (the model stays loaded); escape returns")

    def on_prediction_failed(self, message: PredictionFailed) -> None:
        if message.client is not self.client:
            return
        self.close_client()                     # the next question starts a fresh one
        self.set_status(message.error, error=True)
