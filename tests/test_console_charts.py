"""The console's charts through Pilot: what the Loss, Throughput and Gradients panels draw
from a real quickstart run's events, the chart settings, and tabs on small terminals."""

from __future__ import annotations

import asyncio
import json
import math
import shutil

import numpy as np
import pytest
from textual.widgets import Checkbox, Select, Static, Tabs
from textual_plot import DurationFormatter

from redheart.runs.smoothing import ema
from tests.test_tui import RECORDED, recorded_events, wait_for
from tui.app import RedHeartApp
from tui.event_source import FileEventSource, LocalController
from tui.log_axis import LogAxisFormatter
from tui.series import Series
from tui.smoothing import smoothed
from tui.widgets.chart import Chart
from tui.widgets.slider import Slider
from tui.widgets.throughput_panel import rate_text
from tui.widgets.toggles import Toggles


def drawn(app, chart_id: str) -> dict:
    return {t.label: t for t in app.query_one(chart_id, Chart).traces}


def test_chart_settings_change_what_the_loss_chart_draws(monkeypatch):
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)
    events = recorded_events()
    steps = [e for e in events if e["type"] == "step"]
    emotion = [(e["step"], e["loss"]["emotion"]) for e in steps if "emotion" in e["loss"]]

    async def scenario():
        app = RedHeartApp(attach=RECORDED)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.view.events_seen == len(events))
            await pilot.pause(0.2)
            slider = app.query_one("#smoothing", Slider)
            slider.focus()
            for _ in range(12):                        # 0.60 -> 0.00: the raw values
                await pilot.press("left")
            await pilot.pause(0.1)
            assert slider.value == 0.0
            traces = drawn(app, "#loss-chart")
            assert traces["emotion"].y.tolist() == [v for _, v in emotion]
            await pilot.press("right", "right")        # 0.10
            await pilot.pause(0.1)
            expected = ema(np.array([v for _, v in emotion]), 0.1)
            np.testing.assert_allclose(drawn(app, "#loss-chart")["emotion"].y, expected)

            app.query_one("#log", Checkbox).value = True
            await pilot.pause(0.1)
            chart = app.query_one("#loss-chart", Chart)
            assert isinstance(chart._y_formatter, LogAxisFormatter)

            app.query_one("#window", Select).value = 1          # the last 100 steps
            app.query_one("#axis", Select).value = 1            # x: seconds since start
            await pilot.pause(0.1)
            traces = drawn(app, "#loss-chart")
            start = steps[0]["t"]
            first_step = next(e for e in events if e["type"] == "run_started")["t"]
            assert traces["total"].x[0] == pytest.approx(start - first_step, abs=1e-6)
            assert isinstance(chart._x_formatter, DurationFormatter)

            toggles = app.query_one("#loss-curves", Toggles)
            toggles.focus()
            await pilot.press("right", "space")        # the cursor on "emotion": hide it
            await pilot.pause(0.1)
            assert "emotion" not in drawn(app, "#loss-chart")
            assert "eval emotion" not in drawn(app, "#loss-chart")
            assert "total" in drawn(app, "#loss-chart")

    asyncio.run(scenario())


def test_throughput_and_gradients_come_from_the_step_events(monkeypatch):
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)
    events = recorded_events()
    steps = [e for e in events if e["type"] == "step"]

    async def scenario():
        app = RedHeartApp(attach=RECORDED)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.view.events_seen == len(events))
            await pilot.pause(0.2)
            traces = drawn(app, "#throughput-chart")
            samples = np.array([e["samples_per_s"] for e in steps])
            np.testing.assert_allclose(traces["samples/s"].y, ema(samples, 0.6))
            assert traces["tokens/s"].x.tolist() == [e["step"] for e in steps]
            figures = str(app.query_one("#throughput-figures", Static).render())
            assert f"{rate_text(steps[-1]['samples_per_s'])} samples/s" in figures
            assert f"{rate_text(steps[-1]['tokens_per_s'])} tokens/s" in figures
            table = str(app.query_one("#grads-table", Static).render()).splitlines()
            modules = {m for e in steps for m in e["grad_norm_by_module"]}
            assert {line.split()[0] for line in table[1:]} == modules
            last = [e["grad_norm_by_module"]["backbone"] for e in steps
                    if "backbone" in e["grad_norm_by_module"]][-1]
            backbone = next(line for line in table if line.startswith("backbone "))
            assert float(backbone.split()[1]) == pytest.approx(last, rel=5e-3)

    asyncio.run(scenario())


def write_run(path, norms: list[dict[str, float]]) -> None:
    """A finished run whose steps carry the given per-module gradient norms."""
    path.mkdir()
    lines = [{"v": 1, "seq": 0, "t": 1000.0, "type": "run_started", "total_steps": len(norms),
              "step": 0}]
    for step, by_module in enumerate(norms, start=1):
        lines.append({"v": 1, "seq": step, "t": 1000.0 + step, "type": "step", "step": step,
                      "epoch": 0, "loss": {"total": 1.0}, "lr": 1e-3, "grad_norm": 1.0,
                      "grad_norm_by_module": by_module, "samples_per_s": 10.0,
                      "tokens_per_s": 100.0})
    lines.append({"v": 1, "seq": len(lines), "t": 2000.0, "type": "run_finished",
                  "summary": {"reason": "done"}})
    (path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))


def test_a_module_whose_norm_jumps_ten_times_is_red_and_listed_first(tmp_path):
    norms = [{"backbone": 1.0, "surd_head": 0.2, "utilities": 0.3} for _ in range(8)]
    norms.append({"backbone": 1.1, "surd_head": 0.2, "utilities": 3.5})   # 11.7x its median
    write_run(tmp_path / "run", norms)

    async def scenario():
        app = RedHeartApp(attach=tmp_path / "run")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.view.step == 9)
            await pilot.pause(0.2)
            table = app.query_one("#grads-table", Static).render()
            lines = str(table).splitlines()
            assert lines[1].split()[:5] == ["utilities", "3.5", "0.3", "x12", "at"]
            assert [line.split()[0] for line in lines[2:]] == ["backbone", "surd_head"]
            red = [span for span in table.spans if "red" in str(span.style)]
            assert red and all(str(table)[s.start:s.end].startswith(("utilities", "▁", "█"))
                               for s in red)
            assert "1 jumped over 10x" in str(app.query_one("#grads-summary", Static).render())

    asyncio.run(scenario())


@pytest.mark.parametrize("size", [(80, 24), (119, 40), (120, 31)])
def test_small_terminals_show_one_panel_with_tabs_loss_first_for_a_run(monkeypatch, size):
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)

    async def scenario():
        app = RedHeartApp(attach=RECORDED)
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: app.view.events_seen > 0)
            await pilot.pause(0.2)
            tabs = app.query_one("#panel-tabs", Tabs)
            assert tabs.display and tabs.active == "tab-loss"
            shown = [p.id for p in app.query(".panel") if p.display and p.has_class("active")]
            assert shown == ["loss"]
            chart = app.query_one("#loss-chart", Chart)
            assert chart.region.height >= 8 and chart.region.bottom <= size[1]  # above the fold
            assert not app.query_one("#modules").region.height           # hidden, not below
            await pilot.click("#tab-gradients")
            await pilot.pause(0.1)
            assert app.query_one("#gradients").region.height > 0
            assert not app.query_one("#loss").region.height

    asyncio.run(scenario())


def test_before_a_run_modules_come_first_and_a_started_run_puts_loss_first(monkeypatch):
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)

    async def scenario():
        app = RedHeartApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.1)
            tabs = app.query_one("#panel-tabs", Tabs)
            assert tabs.active == "tab-modules"
            assert app.query_one("#modules").region.height > 0
            app.connect(FileEventSource(RECORDED), LocalController(RECORDED))  # as start does
            await wait_for(pilot, lambda: tabs.active == "tab-loss")
            await pilot.pause(0.1)                   # the shown panel is laid out
            assert [t.id for t in tabs.query("Tab")][:3] == ["tab-loss", "tab-gradients",
                                                              "tab-throughput"]
            assert app.query_one("#loss").region.height > 0

    asyncio.run(scenario())


def test_at_120x32_and_over_all_panels_share_the_screen(monkeypatch):
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)

    async def scenario():
        app = RedHeartApp(attach=RECORDED)
        async with app.run_test(size=(120, 32)) as pilot:
            await wait_for(pilot, lambda: app.view.events_seen > 0)
            assert not app.query_one("#panel-tabs").display
            for panel in app.query(".panel"):
                assert panel.region.height >= 7 and panel.region.bottom <= 31, panel.id

    asyncio.run(scenario())


def test_smoothed_curves_are_extended_not_recomputed_and_match_a_full_ema():
    series = Series(capacity=64)
    rng = np.random.default_rng(0)
    values = rng.normal(size=200)
    for i, v in enumerate(values[:50]):
        series.append(i, float(i), float(v))
    first = smoothed(series, 0.9)
    for i, v in enumerate(values[50:60], start=50):
        series.append(i, float(i), float(v))
    extended = smoothed(series, 0.9)
    np.testing.assert_allclose(extended, ema(values[:60], 0.9), rtol=1e-12)
    np.testing.assert_array_equal(extended[:50], first)
    np.testing.assert_allclose(smoothed(series, 0.5), ema(values[:60], 0.5), rtol=1e-12)
    for i, v in enumerate(values[60:], start=60):       # a compaction rewrites the history
        series.append(i, float(i), float(v))
    assert series.compactions > 0
    np.testing.assert_allclose(smoothed(series, 0.9), ema(series.values, 0.9), rtol=1e-12)
    assert math.isclose(smoothed(series, 0.0)[-1], values[-1])


def test_replaying_a_run_copied_while_it_was_written_draws_its_whole_history(tmp_path):
    """Attaching mid-run, then the rest arriving: the curve is the whole run's."""
    from tests.conftest import ROOT

    run = tmp_path / "run"
    shutil.copytree(ROOT / RECORDED, run)
    lines = (run / "events.jsonl").read_text().splitlines(keepends=True)
    (run / "events.jsonl").write_text("".join(lines[:100]))
    steps = [json.loads(line) for line in lines if '"type":"step"' in line]

    async def scenario():
        app = RedHeartApp(attach=run)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.view.events_seen == 100)
            with (run / "events.jsonl").open("a") as f:
                f.write("".join(lines[100:]))
            await wait_for(pilot, lambda: app.view.events_seen == len(lines))
            # the chart follows within CHARTS_S (1 s), on a later tick if need be
            await wait_for(pilot, lambda: drawn(app, "#loss-chart")["total"].x.size
                           == len(steps), timeout=30)
            total = drawn(app, "#loss-chart")["total"]
            np.testing.assert_allclose(total.y, ema(np.array([s["loss"]["total"]
                                                              for s in steps]), 0.6))

    asyncio.run(scenario())


def test_the_throughput_header_fits_half_a_120_column_screen():
    """Two GPU-sized rates and the note in the 56 cells of the panel at 120 columns
    (`1,234.5 samples/s  123,456.7 tokens/s` cut the note off)."""
    from tui.run_view import RunView
    from tui.widgets import throughput_panel
    from tui.widgets.throughput_panel import figures

    view = RunView()
    view.samples_per_s, view.tokens_per_s = 1234.5, 123456.7
    text = figures(view).plain
    assert len(text) <= 56 and "1.23k samples/s" in text and "123k tokens/s" in text
    assert text.endswith("(smoothed, log axis)")
    assert [throughput_panel.rate_text(v) for v in (0.6, 10.14, 999.4, 999.6, 2.5e6)] == \
        ["0.6", "10.1", "999", "1k", "2.5M"]


def test_the_memory_legend_breaks_between_entries_never_inside_one():
    """At 160 columns Rich's wrap split `■ optim` from its figure; each entry stays whole,
    every line fits the panel, and the unit is named."""
    from redheart.units import MIB
    from tui.widgets.memory_panel import COLORS, SHORT, forecast_legend

    mib = {"weights": 1262, "gradients": 1262, "optimizer": 2524, "optimizer_step": 1262,
           "autocast_cache": 631, "activations": 2753, "context": 500}
    plan = {"forecast": {k: v * MIB for k, v in mib.items()}, "savers": ["checkpoint"]}
    for width in (76, 56, 40):
        lines = forecast_legend(plan, width).plain.splitlines()
        assert lines[0].startswith("MiB  ■ weights 1,262") and lines[-1] == "savers: checkpoint"
        assert all(len(line) <= width for line in lines), (width, lines)
        entries = [e.strip() for line in lines[:-1] for e in line.split("■")[1:]]
        assert entries == [f"{SHORT[k]} {mib[k]:,}" for k in COLORS]
    assert len(forecast_legend(plan, 76).plain.splitlines()) == 3


def test_a_curve_below_zero_on_a_log_axis_is_named_on_the_panel():
    """Uncertainty weighting's total goes negative; on a log axis it is left out, and the
    Loss panel's border says so instead of the curve vanishing without a word."""
    from tui.traces import Trace
    from tui.widgets.loss_panel import hidden_on_log_axis

    total = Trace("total", np.arange(3.0), np.array([0.4, -0.1, -0.7]), "white")
    emotion = Trace("emotion", np.arange(3.0), np.array([2.0, 1.5, 1.2]), "red")
    assert hidden_on_log_axis([total, emotion]) == "log axis: total <= 0 not drawn; turn log off"
    assert hidden_on_log_axis([emotion]) == ""
