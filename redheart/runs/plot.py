"""`redheart plot RUN [RUN ...] --out FILE`: loss and eval curves of runs, as a picture for
a report (PNG or SVG; matplotlib without a display).

Each run is one colour in both panels. A resumed run logged the steps after
its checkpoint twice (the killed launch, then the resumed one): the newest
launch's value wins, as in TensorBoard, so the curve does not loop back.

The training loss is drawn as TensorBoard and the console draw it: the raw
values faint, their EMA over the run bold. Each batch comes from one source,
and the losses of different sources differ many times over (in a quickstart
run, about 0.1 on a dilemma-pair batch and 5 on an emotion batch), so the raw
total alone is a saw whose trend cannot be read.
"""

from __future__ import annotations

import os
from pathlib import Path

from redheart.errors import RedHeartError, cannot_write
from redheart.runs.events import stream_events
from redheart.runs.export_metrics import events_path
from redheart.runs.scalars import ScalarStream
from redheart.runs.smoothing import DEFAULT_SMOOTHING, ema

FORMATS = (".png", ".svg")
DPI = 100
PANELS = (("loss/total", "training loss (total)"), ("eval/loss", "eval loss (sum of tasks)"))
RAW_ALPHA = 0.25
"""The raw training loss under its smoothed curve, as TensorBoard draws it."""


class PlotError(RedHeartError):
    """Nothing to draw, or a file it cannot be drawn to."""


def curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} of the tags drawn, by step: a launch that starts at
    step S (a resume) abandons the earlier launch's points past S, as TensorBoard's purge
    and the console's curves do, so a killed launch's later steps are not drawn."""
    wanted = {tag for tag, _ in PANELS}
    points: dict[str, dict[int, float]] = {tag: {} for tag in wanted}
    stream = ScalarStream()
    for event in stream_events(events_path(run_dir)):
        start = event.get("step")
        if event.get("type") == "run_started" and isinstance(start, int):
            for tag, by_step in points.items():
                points[tag] = {step: v for step, v in by_step.items() if step <= start}
        for scalar in stream.scalars(event):
            if scalar.tag in wanted:
                points[scalar.tag][scalar.step] = scalar.value
    return {tag: sorted(by_step.items()) for tag, by_step in points.items()}


def plot_runs(run_dirs: list[Path], out: Path, width: int, height: int,
              smoothing: float | None = None) -> None:
    """Draw `width` x `height` pixels (an SVG of the same size at 100 dpi) into `out`; the
    training loss smoothed with EMA weight `smoothing` (0: raw; None: the console's)."""
    smoothing = DEFAULT_SMOOTHING if smoothing is None else smoothing
    if not 0 <= smoothing < 1:
        raise PlotError(f"--smoothing {smoothing}: pick a weight in [0, 1) (0 draws the raw "
                        f"values)")
    if out.suffix.lower() not in FORMATS:
        raise PlotError(f"--out {out}: pick a .png or .svg file name")
    if not out.parent.is_dir():
        raise PlotError(f"--out {out}: its folder {out.parent} does not exist")
    data = [(run, curves(run)) for run in run_dirs]
    if not any(points for _, found in data for points in found.values()):
        raise PlotError("no step or eval event in " + ", ".join(str(r) for r in run_dirs)
                        + "; nothing to draw yet")
    from matplotlib.figure import Figure  # a Figure of its own: no pyplot, no display

    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    axes = figure.subplots(len(PANELS), 1, sharex=True)
    colours = [f"C{i % 10}" for i in range(len(data))]
    for ax, (tag, title) in zip(axes, PANELS, strict=True):
        for (run, found), colour in zip(data, colours, strict=True):
            if not found[tag]:
                continue
            steps, values = zip(*found[tag], strict=True)
            if tag.startswith("eval/"):
                ax.plot(steps, values, color=colour, label=run.name, marker="o", markersize=3)
            elif smoothing > 0:
                ax.plot(steps, values, color=colour, alpha=RAW_ALPHA, linewidth=0.8)
                ax.plot(steps, ema(values, smoothing), color=colour, label=run.name,
                        linewidth=1.8)
            else:
                ax.plot(steps, values, color=colour, label=run.name)
        ax.set_title(title, loc="left")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("step")
    axes[0].legend(loc="upper right", fontsize="small")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        figure.savefig(tmp, format=out.suffix.lower()[1:], dpi=DPI)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise cannot_write(out, exc, "plot") from None
