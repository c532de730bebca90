"""Loss: total and per-task curves (toggle, log scale, smoothing) and the step figures."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Label, Static

from tui.run_view import TASKS, RunView, format_eta
from tui.widgets.curve import Curve
from tui.widgets.text import set_text

CURVES = ("total", *TASKS)


def smoothed(values: list[float], alpha: float) -> list[float]:
    """Exponential moving average (alpha 1 = raw)."""
    out, state = [], None
    for value in values:
        state = value if state is None else alpha * value + (1 - alpha) * state
        out.append(state)
    return out


def for_display(values: list[float], log_scale: bool, smooth: bool) -> list[float]:
    values = smoothed(values, 0.1) if smooth else list(values)
    if log_scale:
        floor = min((v for v in values if v > 0), default=1e-8)
        values = [math.log10(max(v, floor)) for v in values]
    return values


class LossPanel(Vertical):
    BORDER_TITLE = "Loss"

    def compose(self) -> ComposeResult:
        yield Static("no steps yet", id="loss-figures")
        with Horizontal(id="loss-options"):
            for name in CURVES:
                yield Checkbox(name, value=True, id=f"show-{name}", compact=True)
            yield Checkbox("log", value=False, id="log-scale", compact=True)
            yield Checkbox("smooth", value=True, id="smooth", compact=True)
        for name in CURVES:
            with Horizontal(classes="curve", id=f"curve-{name}"):
                yield Label(f"{name:<8}", classes="curve-label")
                yield Curve(id=f"spark-{name}", classes="curve-spark")
                yield Label("", id=f"last-{name}", classes="curve-last")
        yield Static("", id="loss-eval")

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.refresh_curves(self.app.view)  # type: ignore[attr-defined]

    def refresh_curves(self, view: RunView) -> None:
        log_scale = self.query_one("#log-scale", Checkbox).value
        smooth = self.query_one("#smooth", Checkbox).value
        for name in CURVES:
            shown = self.query_one(f"#show-{name}", Checkbox).value
            self.query_one(f"#curve-{name}").display = shown
            values = list(view.loss.get(name, ()))
            self.query_one(f"#spark-{name}", Curve).data = tuple(
                for_display(values, log_scale, smooth))
            self.query_one(f"#last-{name}", Label).update(
                f"{values[-1]:.4f}" if values else "-", layout=False)

    def show(self, view: RunView) -> None:
        total = f"/{view.total_steps}" if view.total_steps else ""
        figures = (f"step {view.step}{total}  epoch {view.epoch}  ETA "
                   f"{format_eta(view.eta_seconds())}\n"
                   f"lr {view.lr:.2e}  |g| {view.grad_norm:.2f}  "
                   f"{view.samples_per_s:.1f} samples/s" if view.lr is not None
                   else f"step {view.step}{total}")
        set_text(self.query_one("#loss-figures", Static), figures)
        if view.eval_metrics:
            set_text(self.query_one("#loss-eval", Static), "eval: " + "  ".join(
                f"{k} {v:.4f}" for k, v in view.eval_metrics.items()
                if isinstance(v, (int, float))))
        self.refresh_curves(view)
