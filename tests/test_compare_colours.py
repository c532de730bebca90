"""The Compare view of a whole sweep: every run its own colour, in its curve, its eval
points and its diff column alike."""

from __future__ import annotations

from tui.compare_data import compare_traces, run_color
from tui.run_view import RunView
from tui.traces import ChartSettings


def test_a_sweep_of_twelve_runs_is_drawn_in_twelve_colours():
    views = {}
    for index in range(12):
        view = RunView()
        view.apply([{"type": "run_started", "step": 0, "t": 0.0},
                    *({"type": "step", "step": s, "t": float(s), "loss": {"total": index}}
                      for s in range(1, 6)),
                    {"type": "eval", "step": 5, "t": 5.0, "metrics": {"loss": index}}])
        views[f"run-{index}"] = view
    traces = compare_traces(views, "total", ChartSettings())
    lines = [t.color for t in traces if not t.points]
    assert len(lines) == 12 and len(set(lines)) == 12
    assert [t.color for t in traces if t.points] == lines
    assert lines == [run_color(i) for i in range(12)]      # the diff's column headers
