"""What the Compare view draws and lists for two or more runs (no Textual).

Curves: one colour per run, its training curve as a line and its evals as
points, on one pair of axes. Config: `redheart diff` compares two runs, so
for N runs the first is the reference and each other one is diffed against
it; the rows are every key any run differs in, one column per run.
"""

from __future__ import annotations

from typing import Any

from tui.run_view import RunView
from tui.traces import ChartSettings, Trace, trace

RUN_COLORS = ("#00d7d7", "#ff5f5f", "#5fd75f", "#ffaf00", "#af87ff", "#e4e4e4", "#5f87ff",
              "#ff87d7", "#d7d700", "#af5f00", "#00af87", "#d70087", "#87afff", "#878787",
              "#afd75f", "#ff8787")
"""One per run, distinct on dark and light themes: a sweep of a dozen runs compared at
once gets a colour each (eight drew its ninth run in its first's colour, the two curves
and legend entries alike); repeats only past sixteen runs."""
SECTION = "──"
"""First cell of the row that opens the metrics below the config keys."""
_SAME = object()
"""A run that does not differ from the first in a key (None is a value: a key a run's
config lacks)."""


def run_color(index: int) -> str:
    return RUN_COLORS[index % len(RUN_COLORS)]


def metrics_of(views: dict[str, RunView]) -> list[str]:
    """Training curves any run has: total first, then the tasks as they appeared."""
    names = dict.fromkeys(name for view in views.values() for name in view.loss)
    return sorted(names, key=lambda name: name != "total")


def compare_traces(views: dict[str, RunView], metric: str,
                   settings: ChartSettings) -> list[Trace]:
    """Each run's `metric` line (in `views` order), then each run's eval points of the
    same quantity (the eval "loss" for the training "total"), drawn over all lines."""
    eval_name = "loss" if metric == "total" else metric
    lines, points = [], []
    for index, (name, view) in enumerate(views.items()):
        color = run_color(index)
        line = view.loss.get(metric)
        if line is not None and len(line):
            lines.append(trace(name, line, color, settings, t0=view.opened_at))
        evals = view.eval.get(eval_name)
        if evals is not None and len(evals):
            end = float(line.steps[-1]) if line is not None and len(line) else None
            points.append(trace(f"{name} eval", evals, color, settings, points=True,
                                t0=view.opened_at, end=end))
    return lines + points


def value_text(value: Any) -> str:
    """A config value or metric as a cell: "-" for a key the run lacks, and an empty
    string as `""` (a blank cell reads as "nothing here", not "set to empty")."""
    if value is None:
        return "-"
    if value == "":
        return '""'
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    return str(value)


def merged_diff(diffs: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Rows `(key, first run's value, second's, ...)` from `diff(first, other)` for each
    other run: the config keys any run differs in (sorted), a section row, then every
    metric. A run that does not differ from the first in a key has the first's value."""
    columns = len(diffs) + 1
    config: dict[str, list[Any]] = {}
    for index, diff in enumerate(diffs, start=1):
        for row in diff.get("config") or []:
            values = config.setdefault(row["key"], [row["a"], *[_SAME] * (columns - 1)])
            values[index] = row["b"]
    for values in config.values():
        values[1:] = [values[0] if v is _SAME else v for v in values[1:]]
    metrics: dict[str, list[Any]] = {}
    for index, diff in enumerate(diffs, start=1):
        for name, pair in (diff.get("metrics") or {}).items():
            values = metrics.setdefault(name, [pair.get("a"), *[None] * (columns - 1)])
            values[index] = pair.get("b")
    rows = [(key, *map(value_text, values)) for key, values in sorted(config.items())]
    if not config:
        rows.append(("(same config)", *[""] * columns))
    rows.append((f"{SECTION} metrics", *[""] * columns))
    rows += [(name, *map(value_text, values)) for name, values in metrics.items()]
    return rows


def fit_widths(natural: list[int], room: int, padding: int = 2) -> list[int]:
    """Column widths for cells of `natural` widths in `room` cells, each column costing
    `padding` more: every column whole when they fit, else the widest ones cut to one
    common width (the narrow ones, usually numbers, stay whole), never below 1.

    Fixed caps (the key at 28, each run at 18) cut a second run's value to 3 cells in
    a 56-cell panel while short columns left room unused."""
    if sum(natural) + padding * len(natural) <= room:
        return list(natural)
    content = room - padding * len(natural)
    cap = 1
    for width in sorted(set(natural)):
        if sum(min(n, width) for n in natural) > content:
            break
        cap = width
    # the widest columns share what the narrower ones leave
    narrow = [n for n in natural if n <= cap]
    wide = len(natural) - len(narrow)
    if wide:
        cap = max(cap, (content - sum(narrow)) // wide)
    return [max(1, min(n, cap)) for n in natural]
