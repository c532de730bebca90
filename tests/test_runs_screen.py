"""The Runs screen and the Compare view through Pilot, on real quickstart runs: listing
with live status, opening a run, comparing marked runs (their curves and `redheart
diff`), over ssh too; and a snapshot of the Compare view of two recorded runs."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sys

import numpy as np
import pytest
from textual.widgets import DataTable, Static

from redheart.runs.config_diff import diff_runs
from redheart.runs.events import read_events
from redheart.runs.run_dir import RunLock
from redheart.runs.smoothing import DEFAULT_SMOOTHING, ema
from tests.conftest import PROFILES, ROOT, run_here
from tests.test_tui import wait_for
from tui.app import RedHeartApp
from tui.compare_data import fit_widths
from tui.compare_screen import CompareScreen
from tui.runs_screen import RunsScreen
from tui.runs_source import LocalRuns
from tui.widgets.chart import Chart

RECORDED_RUNS = {"quickstart-lr1e-3": ROOT / "tests/data/recorded_events",
                 "quickstart-lr3e-4": ROOT / "tests/data/recorded_lr3e-4"}
"""Two real 30-step quickstart runs, the second with train.lr = 3e-4 (checkpoints removed)."""


@pytest.fixture(scope="module")
def runs_root(quickstart_data, tmp_path_factory):
    """Two real 3-step quickstart runs (`redheart run`'s code path, 40 rows a source) that
    differ in their learning rate."""
    from redheart.train.run import run_training
    from tui.app import SilentReporter

    config = quickstart_data[0]
    root = tmp_path_factory.mktemp("runs")
    for name, lr in (("lr-1e-3", 1e-3), ("lr-3e-4", 3e-4)):
        train = dataclasses.replace(config.train, max_steps=3, lr=lr)
        run_training(dataclasses.replace(config, train=train), PROFILES,
                     SilentReporter(None), root / name, samples=40)  # type: ignore[arg-type]
    return root


def runs_rows(screen: RunsScreen) -> dict[str, list[str]]:
    """The Runs screen's rows by run path; none while the screen is still composing (on a
    busy machine it can be the active screen before its table is mounted)."""
    tables = screen.query(DataTable)
    if not tables:
        return {}
    table = tables.first()
    return {str(key.value): [str(cell) for cell in table.get_row(key)] for key in table.rows}


def total_losses(run_dir) -> list[float]:
    return [e["loss"]["total"] for e in read_events(run_dir / "events.jsonl")
            if e["type"] == "step"]


def test_runs_screen_lists_runs_live_status_and_opens_one(runs_root, tmp_path, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)    # xdist's workers set 80: every column
    root = tmp_path / "runs"
    shutil.copytree(runs_root, root)
    live = root / "lr-3e-4"                       # the same run, caught before its end
    lines = (live / "events.jsonl").read_text().splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if '"type":"run_finished"' in line)
    (live / "events.jsonl").write_text("".join(lines[:end - 1]))
    lock = RunLock(live)
    lock.acquire()

    async def scenario():
        app = RedHeartApp(runs=LocalRuns(root))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen)
                           and len(runs_rows(app.screen)) == 2, timeout=60)
            rows = runs_rows(app.screen)
            done = rows[str(root / "lr-1e-3")]
            assert done[1:5] == ["lr-1e-3", "quickstart", "finished", "3/3"]
            # the figures of `redheart runs`, formatted alike, and every column in view
            listed = run_here("runs", str(root)).stdout.splitlines()
            assert " ".join(done[1:]).split() in [line.split() for line in listed]
            table = app.screen.query_one(DataTable)
            assert table.virtual_size.width <= table.size.width
            assert app.screen.query_one("#runs-help").size.height == 1   # its keys on one line
            assert rows[str(root / "lr-3e-4")][3] == "live"
            with (live / "events.jsonl").open("a") as f:       # it ends
                f.write("".join(lines[end - 1:]))
            lock.release()
            await wait_for(pilot, lambda: runs_rows(app.screen)[str(live)][3] == "finished",
                           timeout=60)
            table = app.screen.query_one(DataTable)
            table.move_cursor(row=list(runs_rows(app.screen)).index(str(root / "lr-1e-3")))
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, RunsScreen)
                           and app.view.state == "finished", timeout=60)
            assert app.attach == root / "lr-1e-3"
            chart = app.query_one("#loss-chart", Chart)
            await wait_for(pilot, lambda: any(t.label == "total" for t in chart.traces),
                           timeout=30)
            total = {t.label: t for t in chart.traces}["total"]
            np.testing.assert_allclose(total.y, ema(total_losses(root / "lr-1e-3"),
                                                    DEFAULT_SMOOTHING))
            await pilot.press("o")                    # back to the list, the same folder
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
            assert app.screen.source.label == str(root)

    try:
        asyncio.run(scenario())
    finally:
        lock.release()


def test_a_growing_run_keeps_its_size_unit_and_help_describes_the_runs_keys(tmp_path):
    """A run that grows past a column's width widens it (the size lost its unit: `100.2`
    for 100.2M); `?` here lists this screen's keys (the console's said `c` saves a
    checkpoint, which here compares)."""
    from tui.screens import HelpScreen

    root = tmp_path / "runs"
    shutil.copytree(RECORDED_RUNS["quickstart-lr1e-3"], root / "grows")

    async def scenario():
        app = RedHeartApp(runs=LocalRuns(root))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen)
                           and len(runs_rows(app.screen)) == 1, timeout=60)
            before = runs_rows(app.screen)[str(root / "grows")][-1]
            (root / "grows" / "notes.bin").write_bytes(b"\0" * 150_000)   # 5 cells to 6
            await wait_for(pilot, lambda: runs_rows(app.screen)[str(root / "grows")][-1]
                           != before, timeout=60)
            # A rebuilt table (its columns re-fitted) measures new rows when idle, before
            # it draws them: measure what is drawn.
            await pilot.pause()
            table = app.screen.query_one(DataTable)
            for index, column in enumerate(table.ordered_columns):
                shown = column.get_render_width(table) - 2 * table.cell_padding
                assert shown >= len(str(table.get_row_at(0)[index])), column.label
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            assert "compare the marked runs" in app.screen.text
            assert "save a checkpoint" not in app.screen.text

    asyncio.run(scenario())


async def _compare(app, pilot, order: list[str]) -> CompareScreen:
    """Mark `order` (run paths) on the Runs screen with space, then press c (over the fake
    ssh each answer is a `python -m redheart`: seconds each on a busy machine)."""
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen)
                   and len(runs_rows(app.screen)) >= len(order), timeout=60)
    table = app.screen.query_one(DataTable)
    for path in order:
        table.move_cursor(row=list(runs_rows(app.screen)).index(path))
        await pilot.press("space")
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                   and app.screen.views, timeout=60)
    await pilot.pause(0.2)
    return app.screen


def test_compare_overlays_the_marked_runs_and_shows_their_diff(runs_root):
    a, b = runs_root / "lr-1e-3", runs_root / "lr-3e-4"

    async def scenario():
        app = RedHeartApp(runs=LocalRuns(runs_root))
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _compare(app, pilot, [str(b), str(a)])
            traces = {t.label: t for t in screen.query_one(Chart).traces}
            assert set(traces) >= {"lr-3e-4", "lr-1e-3", "lr-3e-4 eval", "lr-1e-3 eval"}
            assert traces["lr-3e-4"].color != traces["lr-1e-3"].color
            assert traces["lr-3e-4"].color == traces["lr-3e-4 eval"].color
            for name, run in (("lr-1e-3", a), ("lr-3e-4", b)):
                np.testing.assert_allclose(traces[name].y, ema(total_losses(run),
                                                               DEFAULT_SMOOTHING))
            legend = str(screen.query_one("#compare-legend", Static).render())
            assert "lr-3e-4" in legend and "lr-1e-3" in legend
            rows = {row[0]: row[1:] for row in screen.diff_rows}
            expected = diff_runs(b, a)
            assert [r["key"] for r in expected["config"]] == ["train.lr"]
            assert rows["train.lr"] == ("0.0003", "0.001")
            best = expected["metrics"]["best.eval.loss"]
            assert rows["best.eval.loss"] == (f"{best['a']:.4g}", f"{best['b']:.4g}")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))

    asyncio.run(scenario())


def test_remote_runs_folder_opens_the_runs_screen_and_compares_through_ssh(runs_root):
    ssh = f"{sys.executable} {ROOT / 'tests' / 'fake_ssh.py'}"
    remote_redheart = f"{sys.executable} -m redheart"
    a, b = runs_root / "lr-1e-3", runs_root / "lr-3e-4"

    async def scenario():
        app = RedHeartApp(remote=f"box:{runs_root}", ssh_command=ssh,
                          remote_redheart=remote_redheart)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _compare(app, pilot, [str(a), str(b)])
            assert screen.source.remote
            rows = {row[0]: row[1:] for row in screen.diff_rows}
            assert rows["train.lr"] == ("0.001", "0.0003")
            traces = {t.label: t for t in screen.query_one(Chart).traces}
            np.testing.assert_allclose(traces["lr-3e-4"].y, ema(total_losses(b),
                                                                DEFAULT_SMOOTHING))

    asyncio.run(scenario())


def test_fit_widths_keeps_narrow_columns_whole_and_cuts_the_widest_alike():
    assert fit_widths([26, 8, 8], 56) == [26, 8, 8]                  # all fit
    # 26 + 3 x 40 in 100 cells (8 of padding): every column cut to the same 23
    assert fit_widths([26, 40, 40, 40], 100) == [23, 23, 23, 23]
    assert fit_widths([26, 6, 40], 60) == [24, 6, 24]                # the number whole
    assert fit_widths([5, 5], 2) == [1, 1]                           # never below a cell


def _recorded_runs(root, cache_dirs: list[str]) -> list[str]:
    """The recorded runs under `root` (paths relative to it), a third (the first again)
    when three cache folders are given, each run's data.cache_dir set to one of them:
    config values as long as a real path, the width a diff must make room for."""
    names = [*RECORDED_RUNS, "quickstart-lr1e-3-again"][:len(cache_dirs)]
    sources = [*RECORDED_RUNS.values(), RECORDED_RUNS["quickstart-lr1e-3"]]
    for name, source, cache_dir in zip(names, sources, cache_dirs, strict=False):
        shutil.copytree(source, root / name)
        config = root / name / "config.toml"
        config.write_text(config.read_text().replace('cache_dir = "/tmp/rec-cache"',
                                                     f'cache_dir = "{cache_dir}"'))
    return [f"runs/{name}" for name in names]


@pytest.mark.parametrize("cache_dirs", [
    ["/srv/cache/minilm-128-a", "/srv/cache/minilm-128-b"],
    ["/srv/cache/minilm-128-a", "/srv/cache/minilm-128-b",
     "/srv/cache/minilm-128-c"]], ids=["2-runs", "3-runs"])
def test_compare_diff_shows_every_value_whole_at_120_columns(tmp_path, monkeypatch,
                                                              cache_dirs):
    """2 or 3 runs whose values are as long as a path: each cell whole and every column
    in view at 120 columns (fixed widths cut the second run's to 3 cells); an empty
    string shown as "" (a blank cell hid that a run's key was set to empty)."""
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.chdir(tmp_path)
    paths = _recorded_runs(root, cache_dirs)

    async def scenario():
        app = RedHeartApp(runs=LocalRuns(root.relative_to(tmp_path)))
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _compare(app, pilot, paths)
            rows = {row[0]: row[1:] for row in screen.diff_rows}
            assert rows["data.cache_dir"] == tuple(cache_dirs)
            assert rows["data.sources[0].truncation"][:2] == ("-", '""')
            table = screen.query_one("#compare-table", DataTable)
            for index, column in enumerate(table.ordered_columns):
                assert column.width >= max(len(row[index]) for row in screen.diff_rows)
            assert table.virtual_size.width <= table.scrollable_content_region.width

    asyncio.run(scenario())


def test_compare_view_snapshot(snap_compare, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    for name, source in RECORDED_RUNS.items():
        shutil.copytree(source, root / name)
    monkeypatch.chdir(tmp_path)                 # paths on screen: runs/NAME

    async def compare(pilot):
        await _compare(pilot.app, pilot, ["runs/quickstart-lr1e-3", "runs/quickstart-lr3e-4"])
        await pilot.pause(0.3)

    assert snap_compare(RedHeartApp(runs=LocalRuns(root.relative_to(tmp_path))),
                        terminal_size=(120, 40), run_before=compare)


def test_the_compare_legend_names_every_run_at_120_columns(tmp_path, monkeypatch):
    """Two runs named as `redheart run` names them: the legend broke inside the second
    entry and cut to one line showed `━ live-20261203-064706  ━`, no second name."""
    root = tmp_path / "runs"
    names = ["live-20261203-064706", "live-20261203-064912"]
    for name, source in zip(names, RECORDED_RUNS.values(), strict=True):
        shutil.copytree(source, root / name)
    monkeypatch.chdir(tmp_path)

    async def scenario():
        app = RedHeartApp(runs=LocalRuns(root.relative_to(tmp_path)))
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _compare(app, pilot, [f"runs/{name}" for name in names])
            shown = screen.query_one("#compare-legend", Static)
            await wait_for(pilot, lambda: all(name in str(shown.render())
                                              for name in names))
            lines = [line.text for line in shown.render_lines(shown.region.reset_offset)]
            for name in names:
                assert any(f"━ {name}" in line for line in lines), lines
            rows = len([line for line in lines if line.strip()])
            assert screen.query_one("#compare-controls").size.height >= rows   # not cut

    asyncio.run(scenario())
