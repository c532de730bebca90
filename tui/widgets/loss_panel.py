"""Loss: the total and per-task training curves, eval points, and the step figures.

Training curves are lines (smoothed, as TensorBoard does); each evaluation
is a point in the colour of its task, so train and eval of one task read
together. The eval "loss" (the plain sum of the task means that picks the
best checkpoint) is drawn in the colour of the training total.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from redheart.tasks import TASKS
from redheart.units import mfu_text
from tui.run_view import RunView, format_eta
from tui.traces import ChartSettings, Trace, trace
from tui.widgets.chart import LINE, POINT, Chart
from tui.widgets.chart_options import ChartOptions
from tui.widgets.text import set_text
from tui.widgets.toggles import Item, Toggles

CURVES = ("total", *TASKS)
COLORS = {"total": "#e4e4e4", "loss": "#e4e4e4", "emotion": "#ff5f5f", "bentham": "#5fd75f",
          "regret": "#ffaf00", "surd": "#af87ff", "pairs": "#00d7d7"}
"""Distinct on dark and light themes alike (the ANSI red and magenta of some themes are
one pink)."""
EVAL = "eval"


def loss_traces(view: RunView, shown: frozenset[str], settings: ChartSettings) -> list[Trace]:
    """Training lines for the shown curves, then (when "eval" is shown) a point series per
    eval metric whose task is shown; eval "loss" goes with "total"."""
    traces = [trace(name, view.loss[name], COLORS.get(name, "blue"), settings,
                    t0=view.opened_at)
              for name in CURVES if name in shown and name in view.loss]
    if EVAL in shown:
        last = view.loss["total"].steps[-1] if "total" in view.loss and len(
            view.loss["total"]) else None
        for name, series in view.eval.items():
            if ("total" if name == "loss" else name) in shown:
                traces.append(trace(f"eval {name}", series, COLORS.get(name, "blue"),
                                    settings, points=True, t0=view.opened_at, end=last))
    return traces


def hidden_on_log_axis(traces: list[Trace]) -> str:
    """Which curves a log axis cannot draw in full, said on the panel's border.

    With `loss_weighting = "uncertainty"` the training total includes the learned
    log-variance terms and goes below zero as they fall; a log axis leaves those values
    out (as TensorBoard does), and a curve that vanished without a word reads as a bug.
    """
    cut = [t.label for t in traces if t.y.size and (t.y <= 0).any()]
    return f"log axis: {', '.join(cut)} <= 0 not drawn; turn log off" if cut else ""


def figures(view: RunView) -> str:
    total = f"/{view.total_steps}" if view.total_steps else ""
    if view.lr is None:
        return f"step {view.step}{total}"
    return (f"step {view.step}{total}  epoch {view.epoch}  ETA "
            f"{format_eta(view.eta_seconds())}\n"
            f"lr {view.lr:.2e}  |g| {view.grad_norm:.2f}  "
            f"{view.samples_per_s:.1f} samples/s{mfu_text(view.mfu)}")


class LossPanel(Vertical):
    BORDER_TITLE = "Loss"

    def __init__(self, current_view: Callable[[], RunView], **kwargs) -> None:
        super().__init__(**kwargs)
        self.current_view = current_view
        """The run shown now (asked each time: the app replaces it when another run is
        shown), for redrawing the chart when a toggle or an option changes."""

    def compose(self) -> ComposeResult:
        yield Static("no steps yet", id="loss-figures")
        yield Toggles(tuple(Item(name, POINT if name == EVAL else LINE,
                                 COLORS.get(name, "white")) for name in (*CURVES, EVAL)),
                      id="loss-curves")
        yield ChartOptions(id="loss-options")
        yield Chart(id="loss-chart")
        yield Static("", id="loss-eval")

    @property
    def shown(self) -> frozenset[str]:
        return self.query_one(Toggles).on

    def on_toggles_changed(self, event: Toggles.Changed) -> None:
        event.stop()
        self.refresh_chart(self.current_view())

    def on_chart_options_changed(self, event: ChartOptions.Changed) -> None:
        event.stop()
        self.refresh_chart(self.current_view())

    def refresh_chart(self, view: RunView) -> bool:
        """Redraw the chart from `view`; False when nothing on it changed."""
        settings = self.query_one(ChartOptions).settings
        traces = loss_traces(view, self.shown, settings)
        self.border_subtitle = hidden_on_log_axis(traces) if settings.log else ""
        return self.query_one(Chart).draw(traces, log=settings.log, elapsed=settings.elapsed)

    def reset(self) -> None:
        """Another run is about to be shown: its evals are not this one's."""
        set_text(self.query_one("#loss-eval", Static), "")

    def show(self, view: RunView) -> None:
        """The figures (the chart is redrawn by `refresh_chart`, at its own pace)."""
        set_text(self.query_one("#loss-figures", Static), figures(view))
        if view.eval_metrics:
            set_text(self.query_one("#loss-eval", Static), "eval: " + "  ".join(
                f"{k} {v:.4f}" for k, v in view.eval_metrics.items()
                if isinstance(v, (int, float))))
