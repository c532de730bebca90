"""`redheart runs --sort best`: a sweep's runs by their best eval loss, the winner first."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_here


def _run(folder: Path, started: float, best: float | None) -> None:
    """A finished run directory started at `started` whose best eval loss is `best`."""
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('[run]\nname = "sweep"\n')
    events = [{"type": "plan"}, {"type": "run_started", "step": 0, "t": started},
              {"type": "step", "step": 1, "t": started + 1, "loss": {"total": 1.0}}]
    if best is not None:
        events.append({"type": "eval", "step": 1, "t": started + 2,
                       "metrics": {"loss": best}})
    events.append({"type": "run_finished", "t": started + 3,
                   "summary": {"reason": "done", "steps": 1}})
    (folder / "events.jsonl").write_text("".join(
        json.dumps({"v": 1, "seq": i, **e}) + "\n" for i, e in enumerate(events, start=1)))


def test_sort_best_puts_the_lowest_best_eval_loss_first(tmp_path):
    root = tmp_path / "runs"
    for name, started, best in (("old-good", 100.0, 7.0305), ("new-worse", 300.0, 7.0350),
                                ("mid-best", 200.0, 6.8827), ("unevaluated", 400.0, None),
                                ("old-unevaluated", 50.0, None)):
        _run(root / name, started, best)
    listed = run_here("runs", str(root), "--sort", "best", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["name"] for r in rows] == ["mid-best", "old-good", "new-worse", "unevaluated",
                                         "old-unevaluated"]
    assert [r["best_loss"] for r in rows[:3]] == [6.8827, 7.0305, 7.0350]
    table = run_here("runs", str(root), "--sort", "best").stdout
    assert table.index("mid-best") < table.index("old-good") < table.index("new-worse")
    newest = json.loads(run_here("runs", str(root), "--json").stdout)
    assert [r["name"] for r in newest][:2] == ["unevaluated", "new-worse"]


def test_an_unknown_sort_is_one_line_exit_2(tmp_path):
    _run(tmp_path / "runs" / "a", 1.0, 7.0)
    result = run_here("runs", str(tmp_path / "runs"), "--sort", "worst")
    assert result.returncode == 2
    assert "--sort" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_o_on_the_runs_screen_orders_by_best_eval_loss_and_back(tmp_path):
    """The console's Runs screen orders as `runs --sort` does; the cursor stays on its run."""
    import asyncio

    from textual.widgets import DataTable, Static

    from tests.test_runs_screen import runs_rows
    from tests.test_tui import wait_for
    from tui.app import RedHeartApp
    from tui.runs_screen import RunsScreen
    from tui.runs_source import LocalRuns

    root = tmp_path / "runs"
    for name, started, best in (("old-good", 100.0, 7.0305), ("new-worse", 300.0, 7.0350),
                                ("mid-best", 200.0, 6.8827), ("unevaluated", 400.0, None)):
        _run(root / name, started, best)

    def names(screen: RunsScreen) -> list[str]:
        return [Path(path).name for path in runs_rows(screen)]

    async def scenario() -> None:
        app = RedHeartApp(runs=LocalRuns(root))
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen)
                           and len(runs_rows(app.screen)) == 4, timeout=60)
            screen = app.screen
            assert names(screen) == ["unevaluated", "new-worse", "mid-best", "old-good"]
            screen.query_one(DataTable).move_cursor(row=1)          # new-worse
            await pilot.press("b")
            await wait_for(pilot, lambda: names(screen)[0] == "mid-best")
            assert names(screen) == ["mid-best", "old-good", "new-worse", "unevaluated"]
            assert Path(screen.current or "").name == "new-worse"
            assert "sorted by best eval loss" in str(
                screen.query_one("#runs-status", Static).render())
            await pilot.pause(2.5)                  # a refresh keeps the order it was given
            assert names(screen) == ["mid-best", "old-good", "new-worse", "unevaluated"]
            await pilot.press("b")
            await wait_for(pilot, lambda: names(screen)[0] == "unevaluated")

    asyncio.run(scenario())
