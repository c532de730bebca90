"""The Runs screen at 80x24: columns that do not fit are left out whole, in the order
`redheart runs` leaves them out, and said so, instead of running off the right edge."""

from __future__ import annotations

import asyncio
import shutil

from textual.widgets import DataTable, Static

from tests.test_runs_screen import RECORDED_RUNS, runs_rows
from tests.test_tui import wait_for
from tui.app import RedHeartApp
from tui.runs_screen import RunsScreen
from tui.runs_source import LocalRuns


def test_at_80_columns_every_shown_column_is_whole_and_the_rest_are_named(tmp_path):
    root = tmp_path / "runs"
    for name, source in RECORDED_RUNS.items():
        shutil.copytree(source, root / name)

    async def scenario():
        app = RedHeartApp(runs=LocalRuns(root))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen)
                           and len(runs_rows(app.screen)) == 2, timeout=60)
            screen = app.screen
            table = screen.query_one(DataTable)
            headers = [str(column.label) for column in table.ordered_columns]
            assert headers[:5] == ["", "run", "status", "step", "best eval loss"]
            assert "duration" in headers and "profile" not in headers
            assert table.virtual_size.width <= table.size.width      # nothing off screen
            row = runs_rows(screen)[str(root / "quickstart-lr1e-3")]
            assert row[1:4] == ["quickstart-lr1e-3", "finished", "30/30"]
            status = str(screen.query_one("#runs-status", Static).render())
            hidden = [h for h in ("profile", "samples/s", "started", "duration", "size")
                      if h not in headers]
            assert f"{', '.join(hidden)} left out at 80 columns" in status
            await pilot.press("space")                  # marking still updates its row
            assert runs_rows(screen)[screen.current][0] == "●"
            await pilot.resize_terminal(160, 40)
            await wait_for(pilot, lambda: len(table.ordered_columns) == 10)
            assert "left out" not in str(screen.query_one("#runs-status", Static).render())

    asyncio.run(scenario())
