"""A resumed run's curves in the console: the newest launch's points, one curve, no loop
back to the checkpoint it resumed from (as TensorBoard and `redheart plot` draw it)."""

from __future__ import annotations

import numpy as np

from redheart.runs.smoothing import ema
from tui.compare_data import compare_traces
from tui.run_view import RunView
from tui.smoothing import smoothed
from tui.traces import ChartSettings


def _launch(start: int, end: int, value: float, evals: tuple[int, ...]) -> list[dict]:
    """run_started at `start`, then steps start+1..end whose total is `value`."""
    events: list[dict] = [{"type": "run_started", "step": start, "t": float(start),
                           "total_steps": 40}]
    for step in range(start + 1, end + 1):
        events.append({"type": "step", "step": step, "t": float(step),
                       "loss": {"total": value, "emotion": value / 2},
                       "samples_per_s": value * 10})
        if step in evals:
            events.append({"type": "eval", "step": step, "t": float(step),
                           "metrics": {"loss": value + 5}})
    return events


def test_a_resumed_launch_replaces_the_killed_launchs_later_points():
    view = RunView()
    view.apply(_launch(0, 23, 1.0, evals=(18, 22)))     # killed at 23, checkpoint at 20
    before = smoothed(view.loss["total"], 0.6).copy()
    assert before.size == 23
    view.apply(_launch(20, 40, 2.0, evals=(36, 40)))    # --resume last: 21..40 again

    total = view.loss["total"]
    assert total.steps.tolist() == list(range(1, 41))
    assert total.values.tolist() == [1.0] * 20 + [2.0] * 20
    assert view.eval["loss"].steps.tolist() == [18, 36, 40]
    assert view.eval["loss"].values.tolist() == [6.0, 7.0, 7.0]
    assert view.throughput["samples/s"].steps.tolist() == list(range(1, 41))
    # the cached smoothed curve is redone, not extended past the dropped points
    np.testing.assert_allclose(smoothed(total, 0.6), ema(total.values.tolist(), 0.6))


def test_the_compare_chart_draws_a_resumed_run_with_increasing_steps():
    view = RunView()
    view.apply(_launch(0, 23, 1.0, evals=()) + _launch(20, 30, 2.0, evals=()))
    [line] = compare_traces({"resumed": view}, "total", ChartSettings(smoothing=0.0))
    assert line.x.tolist() == list(range(1, 31))
    assert np.all(np.diff(line.x) > 0)
    assert line.y[-10:].tolist() == [2.0] * 10


def test_a_launch_restarted_from_step_zero_abandons_every_earlier_point():
    view = RunView()
    view.apply(_launch(0, 7, 1.0, evals=()) + _launch(0, 5, 3.0, evals=()))
    assert view.loss["total"].steps.tolist() == [1, 2, 3, 4, 5]
    assert view.loss["total"].values.tolist() == [3.0] * 5


def test_plot_abandons_the_killed_launchs_points_past_the_resume(tmp_path):
    """Killed at step 29, resumed from 20 and now at 25: `redheart plot` drew launch 1's
    26..29 after launch 2's 21..25; it draws the console's curve."""
    import json

    from redheart.runs.plot import curves

    events = [*_launch(0, 29, 1.0, evals=(18,)), *_launch(20, 25, 2.0, evals=())]
    (tmp_path / "events.jsonl").write_text("".join(
        json.dumps({"v": 1, "seq": seq, **event}) + "\n"
        for seq, event in enumerate(events, start=1)))
    drawn = curves(tmp_path)
    train = next(points for tag, points in drawn.items() if points and len(points) > 20)
    assert [step for step, _ in train] == list(range(1, 26))
    assert [value for _, value in train][19:] == [1.0] + [2.0] * 5


def test_the_checkpoint_list_prunes_by_write_order_as_the_disk_does():
    """Launch 1 wrote steps 3 to 6 (6 its best), then the run resumed from step 2 and wrote
    3 and 4 again: keep_last 2 keeps the best and the two written last, as `_prune` does."""
    config = "[checkpoint]\nkeep_last = 2\n"

    def saved(step: int, best: bool = False) -> dict:
        return {"type": "checkpoint", "step": step, "best": best,
                "path": f"runs/r/checkpoints/step-{step:08d}"}

    view = RunView()
    view.apply([{"type": "run_started", "step": 0, "config": config},
                *(saved(step, best=step == 6) for step in (3, 4, 5, 6)),
                {"type": "run_started", "step": 2, "config": config}, saved(3), saved(4)])
    assert [(c.step, c.best) for c in view.checkpoints] == [(6, True), (3, False), (4, False)]
