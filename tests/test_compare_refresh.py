"""The Compare screen follows a live run: it reads the runs again by itself while one is
live, and a reload keeps the task the user picked."""

from __future__ import annotations

import asyncio
import shutil

from textual.widgets import Select

from redheart.runs.listing import list_runs
from redheart.runs.run_dir import RunLock
from tests.test_runs_screen import RECORDED_RUNS
from tests.test_tui import wait_for
from tui import compare_screen
from tui.app import RedHeartApp
from tui.compare_screen import CompareScreen
from tui.runs_source import LocalRuns


def _steps(screen: CompareScreen, name: str) -> int:
    view = screen.views.get(name)
    return len(view.loss["total"]) if view is not None and "total" in view.loss else 0


def test_a_live_run_compared_grows_and_the_picked_task_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(compare_screen, "REFRESH_S", {False: 0.3, True: 0.3})
    root = tmp_path / "runs"
    shutil.copytree(RECORDED_RUNS["quickstart-lr1e-3"], root / "ended")
    shutil.copytree(RECORDED_RUNS["quickstart-lr3e-4"], root / "live")
    events = root / "live" / "events.jsonl"
    lines = events.read_text().splitlines(keepends=True)
    half = next(i for i, line in enumerate(lines) if '"step":15,' in line and '"step"' in line)
    events.write_text("".join(lines[:half]))            # caught at step 15 of 30
    lock = RunLock(root / "live")
    lock.acquire()

    async def scenario() -> None:
        app = RedHeartApp(runs=LocalRuns(root))
        async with app.run_test(size=(160, 45)) as pilot:
            runs = sorted(list_runs(root), key=lambda run: run.name)
            assert [run.status for run in runs] == ["finished", "live"]
            screen = CompareScreen(LocalRuns(root), runs)
            await app.push_screen(screen)
            await wait_for(pilot, lambda: _steps(screen, "live") > 0, timeout=60)
            before = _steps(screen, "live")
            ended = screen.views["ended"]            # read once: only the live run again
            metric = screen.query_one("#compare-metric", Select)
            metric.value = "emotion"
            await pilot.pause(0.1)
            with events.open("a") as f:                 # it trains on, to its end
                f.write("".join(lines[half:]))
            lock.release()
            await wait_for(pilot, lambda: _steps(screen, "live") > before
                           and screen.views["live"].state == "finished", timeout=30)
            assert metric.value == "emotion"
            assert screen.views["ended"] is ended
            live = screen.views["live"]
            await pilot.pause(1.0)                      # both ended: no more re-reads
            assert screen.views["live"] is live

    try:
        asyncio.run(scenario())
    finally:
        lock.release()
