"""The console through Textual's Pilot: toggles, a real in-process run, refusal, attach."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from redheart.runs.smoothing import DEFAULT_SMOOTHING, ema
from tests.conftest import PROFILES, ROOT
from tui.app import RedHeartApp
from tui.run_view import RunView
from tui.widgets.chart import Chart

RECORDED = Path("tests/data/recorded_events")
"""events.jsonl and config.toml of a real quickstart run (checkpoints removed)."""


async def wait_for(pilot, condition, timeout: float = 90.0, step: float = 0.1) -> None:
    """Pauses until `condition()` holds, at most `timeout` seconds of wall-clock time.

    A timeout is how long a broken console takes to fail, not a speed the test asserts:
    a loaded 2-core machine (CI, or a suite run with workers in parallel) can take many
    times longer than an idle one for the same few frames, so none is under 30 s.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        await pilot.pause(step)
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the console")


def fresh_cache_app(tmp_path, encode_batch: int, samples: int) -> RedHeartApp:
    """The console on the quickstart profile with an empty encoder cache under `tmp_path`:
    a start that encodes its texts in batches of `encode_batch` (small, so a test can act
    during the data read), then trains 3 steps."""
    return RedHeartApp(PROFILES / "quickstart.toml", [
        f'data.cache_dir="{tmp_path / "cache"}"', f'run.runs_root="{tmp_path / "runs"}"',
        "train.max_steps=3", f"data.encode_batch={encode_batch}"], samples=samples)


def forecast_text(app) -> str:
    return str(app.query_one("#memory-forecast", Static).render())


def test_toggling_a_module_changes_the_forecast(quickstart_data):
    config, _, _ = quickstart_data

    async def scenario():
        app = RedHeartApp(PROFILES / "quickstart.toml",
                          [f'data.cache_dir="{config.data.cache_dir}"'])
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: "peak" in forecast_text(app))
            before = forecast_text(app)
            table = app.query_one(DataTable)
            rows = [str(key.value) for key in table.rows]
            assert "backbone.transformer" in rows and "dsp_simulator" in rows
            table.focus()
            table.move_cursor(row=rows.index("dsp_simulator"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: forecast_text(app) != before)
            assert "dsp_simulator" not in app.config.model.modules
            after = [table.get_row(key) for key in table.rows if key.value == "dsp_simulator"]
            assert after[0][0] == "off"
            toggled = forecast_text(app)
            modules = app.config.model.modules
            table.move_cursor(row=rows.index("regret_head"))      # essential: locked
            await pilot.press("enter")
            await pilot.pause(0.5)
            assert app.config.model.modules == modules            # nothing switched
            assert forecast_text(app) == toggled                  # and nothing recomputed
            assert [table.get_row(k) for k in table.rows if k.value == "regret_head"][0][0] \
                == "lock"

    asyncio.run(scenario())


def test_modules_panel_fits_at_120_columns_and_a_refusal_says_what_depends(quickstart_data,
                                                                           monkeypatch):
    """Every column of the Modules table in view at 120 columns (MiB and the note were
    off to the right), the highlighted module's note under it, and a toggle refused on a
    dependency names the module or key that depends on it."""
    config, _, _ = quickstart_data
    notes: list[str] = []
    notify = RedHeartApp.notify
    monkeypatch.setattr(RedHeartApp, "notify", lambda self, message, **kw: (
        notes.append(str(message)), notify(self, message, **kw)))

    async def scenario():
        app = RedHeartApp(PROFILES / "quickstart.toml",
                          [f'data.cache_dir="{config.data.cache_dir}"'])
        async with app.run_test(size=(120, 32)) as pilot:
            await wait_for(pilot, lambda: "peak" in forecast_text(app))
            table = app.query_one("#modules-table", DataTable)
            assert [str(c.label) for c in table.ordered_columns] == ["on", "module", "params",
                                                                     "MiB"]
            assert table.virtual_size.width <= table.scrollable_content_region.width
            rows = [str(key.value) for key in table.rows]
            table.focus()
            note = app.query_one("#modules-note", Static)
            table.move_cursor(row=rows.index("regret_head"))
            await pilot.pause(0.2)
            assert "locked: regret_head produces the only prediction" in str(note.render())
            table.move_cursor(row=rows.index("emotion_analyzer"))
            await pilot.pause(0.2)
            assert "switches emotion_analyzer off" in str(note.render())
            modules = app.config.model.modules
            await pilot.press("enter")
            await wait_for(pilot, lambda: any("cannot be switched" in n for n in notes))
            refusal = next(n for n in notes if "cannot be switched" in n)
            assert refusal.startswith("emotion_analyzer cannot be switched off: ")
            assert "'dsp_simulator' needs 'emotion_analyzer'" in refusal
            table.move_cursor(row=rows.index("utilities"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: any("utilities cannot" in n for n in notes))
            assert "loss_weighting" in next(n for n in notes if "utilities cannot" in n)
            assert app.config.model.modules == modules            # nothing switched

    asyncio.run(scenario())


def _run_app(quickstart_data, tmp_path, *extra):
    config, _, _ = quickstart_data
    return RedHeartApp(PROFILES / "quickstart.toml", [
        f'data.cache_dir="{config.data.cache_dir}"', f'run.runs_root="{tmp_path / "runs"}"',
        "train.max_steps=2000", "checkpoint.every_steps=1000", *extra])


def test_start_pause_resume_stop_in_process_ends_with_a_checkpoint(quickstart_data, tmp_path):
    async def scenario():
        app = _run_app(quickstart_data, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.view.state == "running" and app.view.step > 2)
            # followed only once the engine holds the run's lock: never taken for killed
            assert not [text for _, text in app.view.messages if "killed" in text]
            await pilot.press("p")
            await wait_for(pilot, lambda: app.view.state == "paused")
            paused_at = app.view.step
            await pilot.pause(1.0)
            assert app.view.step <= paused_at + 1
            await pilot.press("r")
            await wait_for(pilot, lambda: app.view.state == "running"
                           and app.view.step > paused_at + 1)
            await pilot.press("x")
            await wait_for(pilot, lambda: app.training_done.is_set())
            await wait_for(pilot, lambda: app.view.state == "stopped")
            assert app.view.checkpoints, "stopping writes a checkpoint"
            last = Path(app.view.checkpoints[-1].path)
            assert (last / "model.safetensors").is_file()
            assert "step" in str(app.query_one("#loss-figures", Static).render())

    asyncio.run(scenario())
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "events.jsonl").is_file()


def test_the_title_counts_the_encoding_then_names_the_run_once_it_trains(tmp_path,
                                                                         monkeypatch):
    """A fresh encoder cache: the title counts the texts encoded up to their total (it
    showed one batch's size, "encoding texts 64/M", and kept it for the whole run), then
    names the run again when training starts."""
    statuses: list[str] = []
    set_status = RedHeartApp.set_status
    monkeypatch.setattr(RedHeartApp, "set_status", lambda self, text: (
        statuses.append(text), set_status(self, text)))

    async def scenario():
        app = fresh_cache_app(tmp_path, encode_batch=16, samples=20)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.view.step >= 1 or app.training_done.is_set())
            await pilot.pause(0.3)
            assert app.view.step >= 1, app.view.messages
            assert len(statuses) > 1
            done, total = map(int, statuses[-1].removeprefix("encoding texts ").split("/"))
            assert done == total > 16
            assert app.sub_title == str(app.own_run)
            await wait_for(pilot, lambda: app.training_done.is_set())

    asyncio.run(scenario())


def test_a_start_that_does_not_fit_is_refused_with_the_reason(quickstart_data, tmp_path):
    async def scenario():
        app = _run_app(quickstart_data, tmp_path, "memory.budget_gb=0.001")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.training_done.is_set()
                           and app.view.state == "idle")
            log = " ".join(" ".join(strip.text for strip in app.query_one("#messages").lines)
                           .split())
            assert "refused:" in log and "does not fit the budget" in log
            assert "short by" in log and "largest:" in log

    asyncio.run(scenario())
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_a_start_refused_on_its_data_fails_and_is_not_called_killed(quickstart_data, tmp_path):
    profile = tmp_path / "missing-data.toml"
    profile.write_text((PROFILES / "quickstart.toml").read_text()
                       .replace('"sample:dilemmas.jsonl"', f'"{tmp_path / "nowhere.jsonl"}"'))
    config, _, _ = quickstart_data

    async def scenario():
        app = RedHeartApp(profile, [f'data.cache_dir="{config.data.cache_dir}"',
                                    f'run.runs_root="{tmp_path / "runs"}"'])
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.training_done.is_set()
                           and app.view.state != "starting")
            await pilot.pause(1.5)        # a lock watch would call it killed after 1 s
            assert app.view.state == "failed"
            log = "".join(strip.text for strip in app.query_one("#messages").lines)
            # wrapped to the panel's width: a name may be cut anywhere
            assert "nowhere.jsonl" in log.replace(" ", "") and "killed" not in log
            # the folder it would have had is named nowhere (the title kept it)
            assert "runs" not in app.sub_title and app.source is None

    asyncio.run(scenario())
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_stop_during_the_data_read_cancels_the_start(tmp_path, monkeypatch):
    """Stop while the texts are encoded: the start ends at the next batch, says so, and
    leaves no folder (a stop sent to the folder-to-be failed, "not a run directory")."""
    notes: list[str] = []
    notify = RedHeartApp.notify
    monkeypatch.setattr(RedHeartApp, "notify", lambda self, message, **kw: (
        notes.append(str(message)), notify(self, message, **kw)))

    async def scenario():
        app = fresh_cache_app(tmp_path, encode_batch=2, samples=40)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.sub_title.startswith("encoding texts")
                           or app.training_done.is_set())
            assert not app.training_done.is_set(), "the encoding ended before the stop"
            await pilot.press("x")
            await wait_for(pilot, lambda: app.training_done.is_set())
            await pilot.pause(0.5)
            assert app.view.state == "idle" and app.source is None and app.sub_title == ""
            log = " ".join(" ".join(strip.text for strip in app.query_one("#messages").lines)
                           .split())
            assert "cancelling the start" in log and "no run folder was created" in log
            assert not [n for n in notes if "not a run directory" in n]
            await pilot.press("q")                 # nothing live: quits at once
            await wait_for(pilot, lambda: not app.is_running, timeout=30)

    asyncio.run(scenario())
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_quit_with_stop_during_the_data_read_cancels_the_start(tmp_path):
    """The quit dialog's Stop while the texts are encoded exits the console and ends the
    start (it failed on "not a run directory" and the console stayed)."""
    from textual.widgets import Button

    from redheart.runs.events import read_events
    from tui.screens import QuitScreen

    app = fresh_cache_app(tmp_path, encode_batch=2, samples=40)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.sub_title.startswith("encoding texts")
                           or app.training_done.is_set())
            assert not app.training_done.is_set(), "the encoding ended before the quit"
            await pilot.press("q")
            # the dialog itself: the Run panel has a #stop too, which only cancels
            await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
            app.screen.query_one("#stop", Button).press()
            await wait_for(pilot, lambda: app.return_code is not None, timeout=30)
        assert app.exit_choice == "stop"
        assert app.training_done.wait(60)

    asyncio.run(scenario())
    runs = list((tmp_path / "runs").iterdir()) if (tmp_path / "runs").exists() else []
    if app.start_cancelled:          # the usual case: the press came during the data read
        assert runs == []
    else:   # a loaded machine finished reading (or all 3 steps) first: stopped or done
        [run] = runs
        assert list(read_events(run / "events.jsonl"))[-1]["type"] == "run_finished"


def recorded_events() -> list[dict]:
    lines = (ROOT / RECORDED / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_attaching_replays_the_recorded_run(monkeypatch):
    monkeypatch.chdir(ROOT)
    events = recorded_events()
    steps = [e for e in events if e["type"] == "step"]
    expected = RunView()
    expected.apply(events)

    async def scenario():
        app = RedHeartApp(attach=RECORDED)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.view.events_seen == len(events))
            assert app.view.step == steps[-1]["step"]
            traces = {t.label: t for t in app.query_one("#loss-chart", Chart).traces}
            total = [s["loss"]["total"] for s in steps]
            assert traces["total"].x.tolist() == [s["step"] for s in steps]
            assert traces["total"].y.tolist() == ema(total, DEFAULT_SMOOTHING).tolist()
            evals = [e for e in events if e["type"] == "eval"]
            assert traces["eval loss"].points
            assert traces["eval loss"].y.tolist() == [e["metrics"]["loss"] for e in evals]
            assert app.view.state == expected.state == "finished"
            checkpoints = str(app.query_one("#checkpoints", Static).render())
            best = expected.best_checkpoint()
            assert best is not None and f"best (*): step {best.step}" in checkpoints
            assert "no NVIDIA GPU" in str(app.query_one("#memory-live", Static).render())

    asyncio.run(scenario())


def test_main_screen_snapshot(snap_compare, monkeypatch):
    monkeypatch.chdir(ROOT)

    async def settle(pilot):
        await wait_for(pilot, lambda: pilot.app.view.events_seen > 0)
        await pilot.pause(0.3)

    assert snap_compare(RedHeartApp(attach=RECORDED), terminal_size=(120, 36),
                        run_before=settle)


@pytest.mark.parametrize("width", [80, 100, 120])
def test_help_and_quit_stay_in_the_footer_down_to_80_columns(monkeypatch, width):
    """Every key of the console's footer whole on screen from 80 columns (at 80, Textual's
    spacing pushed `? Help` and `q Quit` off the right edge)."""
    from textual.widgets._footer import FooterKey

    monkeypatch.chdir(ROOT)

    async def scenario():
        app = RedHeartApp(attach=RECORDED)
        async with app.run_test(size=(width, 24)) as pilot:
            # laid out, not only mounted: on a loaded machine the regions come later
            await wait_for(pilot, lambda: len(app.screen.query(FooterKey)) >= 10 and all(
                key.region.width for key in app.screen.query(FooterKey)))
            await pilot.pause(0.2)
            keys = {key.key: key.region for key in app.screen.query(FooterKey)}
            assert {"question_mark", "q", "s", "x", "c"} <= set(keys)
            for key, region in keys.items():
                assert region.width > 0 and region.right <= width, key

    asyncio.run(scenario())


def test_help_screen_snapshot(snap_compare, monkeypatch):
    monkeypatch.chdir(ROOT)

    async def open_help(pilot):
        await wait_for(pilot, lambda: pilot.app.view.events_seen > 0)
        await pilot.press("question_mark")
        await pilot.pause(0.3)

    assert snap_compare(RedHeartApp(attach=RECORDED), terminal_size=(100, 30),
                        run_before=open_help)


@pytest.mark.parametrize("width,height", [(80, 24), (160, 48)])
def test_usable_at_80x24_and_large(width, height, monkeypatch):
    monkeypatch.chdir(ROOT)

    async def scenario():
        app = RedHeartApp(attach=RECORDED)
        async with app.run_test(size=(width, height)) as pilot:
            await wait_for(pilot, lambda: app.view.events_seen > 0)
            panels = app.query_one("#panels")
            assert panels.has_class("wide") == (width >= 120)
            for panel_id in ("#modules-table", "#memory-forecast", "#loss-figures",
                             "#run-state"):
                app.query_one(panel_id)          # every panel exists at every size

    asyncio.run(scenario())


def test_remote_streams_events_and_sends_commands_through_ssh(tmp_path):
    """--remote with --ssh-command standing in for ssh: the same views, the same channel."""
    import shutil
    import sys

    run = tmp_path / "remote-run"
    shutil.copytree(ROOT / RECORDED, run)
    lines = (run / "events.jsonl").read_text().splitlines()
    live = [line for line in lines if '"run_finished"' not in line
            and '"state":"finished"' not in line]
    (run / "events.jsonl").write_text("\n".join(live) + "\n")
    ssh = f"{sys.executable} {ROOT / 'tests' / 'fake_ssh.py'}"
    remote_redheart = f"{sys.executable} -m redheart"
    from redheart.runs.run_dir import RunLock

    lock = RunLock(run)     # a live run holds its lock; a free one would read as killed
    lock.acquire()

    async def scenario():
        app = RedHeartApp(remote=f"box:{run}", ssh_command=ssh, remote_redheart=remote_redheart)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.view.events_seen == len(live), timeout=30)
            assert app.view.state == "running" and app.view.step == 30
            await pilot.press("p")
            await wait_for(pilot, lambda: (run / "control").is_file(), timeout=30)
            sent = json.loads((run / "control").read_text().splitlines()[-1])
            assert sent["cmd"] == "pause"
            await pilot.click("#resume")                  # the Run panel's buttons send too
            await wait_for(pilot, lambda: len((run / "control").read_text().splitlines()) == 2,
                           timeout=30)
            assert json.loads((run / "control").read_text().splitlines()[-1])["cmd"] == "resume"
            await pilot.click("#lr-input")                # Enter in the LR box sets it
            await pilot.press("2", "e", "-", "4", "enter")
            await wait_for(pilot, lambda: len((run / "control").read_text().splitlines()) == 3,
                           timeout=30)
            sent = json.loads((run / "control").read_text().splitlines()[-1])
            assert sent["cmd"] == "set-lr" and sent["lr"] == 2e-4
            with (run / "events.jsonl").open("a") as f:   # the run ends: the stream closes
                f.write(lines[-1] + "\n")
            await wait_for(pilot, lambda: app.view.state == "finished", timeout=30)

    try:
        asyncio.run(scenario())
    finally:
        lock.release()


async def _quit_while_training(app: RedHeartApp, choice: str) -> None:
    """Start a run in the console, then quit and click `choice` in the quit dialog."""
    from tui.screens import QuitScreen

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.view.state == "running" and app.view.step > 1)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.click(choice)
        await pilot.pause(0.5)


def test_quitting_a_live_run_asks_and_stop_checkpoints_first(quickstart_data, tmp_path):
    app = _run_app(quickstart_data, tmp_path)
    asyncio.run(_quit_while_training(app, "#stop"))
    assert app.exit_choice == "stop"
    assert app.training_done.wait(120), "the stopped run ends"
    run_dir = next((tmp_path / "runs").iterdir())
    kinds = [e.get("state") for e in map(json.loads, (run_dir / "events.jsonl")
                                         .read_text().splitlines()) if e["type"] == "state"]
    assert "stopping" in kinds and kinds[-1] == "stopped"
    assert list((run_dir / "checkpoints").glob("step-*/model.safetensors"))


def test_leaving_a_run_headless_gives_the_terminal_back_and_tells_how_it_ended(
        quickstart_data, tmp_path, monkeypatch, capsys):
    """Through redheart-tui's main: the console quits with the run training, and once it
    ends (stopped here) the outcome lines `redheart run` prints come too (nothing was)."""
    import sys
    import threading

    import tui.app
    import tui.cli
    from tui.event_source import LocalController

    config, _, _ = quickstart_data
    apps: list[RedHeartApp] = []

    def run_and_leave(app: RedHeartApp) -> None:
        apps.append(app)
        asyncio.run(_quit_while_training(app, "#leave"))
        assert app.exit_choice == "leave" and not app.training_done.is_set()
        # the run goes on after the app: stop it later, as `redheart control` would
        threading.Timer(1.0, LocalController(app.own_run).send, ("stop",)).start()

    monkeypatch.setattr(tui.app.RedHeartApp, "run", run_and_leave)
    monkeypatch.setattr(sys, "setswitchinterval", lambda _interval: None)  # main's, not ours
    code = tui.cli.main([str(PROFILES / "quickstart.toml"),
                         "--set", f'data.cache_dir="{config.data.cache_dir}"',
                         "--set", f'run.runs_root="{tmp_path / "runs"}"',
                         "--set", "train.max_steps=2000", "--set", "checkpoint.every_steps=1000"])
    app = apps[0]
    assert code == 0 and app.training_done.is_set()
    events = [json.loads(line) for line in (app.own_run / "events.jsonl").read_text()
              .splitlines()]
    assert [e["state"] for e in events if e["type"] == "state"][-1] == "stopped"
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("training continues headless in this process")
    step = [e for e in events if e["type"] == "run_finished"][-1]["summary"]["steps"]
    assert out[1].startswith(f"stopped at step {step}/2000; ")
    assert f"last checkpoint {app.own_run / 'checkpoints'}" in out[1]
    assert out[2] == f"run directory {app.own_run}"


def test_no_color_is_respected(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("NO_COLOR", "1")
    app = RedHeartApp(attach=RECORDED)
    assert app.no_color


def test_console_usage_errors_are_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    def console(*args):
        return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=60)

    for args, expected in [
        (("profiles/quickstart.toml", "--set", "train.lr=fast"), "[train] lr = 'fast'"),
        (("--attach", str(tmp_path)), "not a run directory (no events.jsonl)"),
        (("--remote", "box:/runs/x", "profiles/quickstart.toml"), "--remote takes its profile"),
        (("--remote", "me@gpu-box"), "--remote 'me@gpu-box': expected [user@]host:"),
        (("--remote", "me@gpu-box:"), "--remote 'me@gpu-box:': expected [user@]host:"),
        (("--frobnicate",), "unrecognized arguments: --frobnicate"),
    ]:
        result = console(*args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, result.stderr)


def test_a_checkpoint_saved_twice_at_one_step_is_listed_once():
    """A run's end re-saves the step a periodic save may have just written."""
    view = RunView()
    view.apply([{"type": "checkpoint", "path": "/r/checkpoints/step-00000270", "step": 270,
                 "best": True},
                {"type": "checkpoint", "path": "/r/checkpoints/step-00000300", "step": 300,
                 "best": False},
                {"type": "checkpoint", "path": "/r/checkpoints/step-00000300", "step": 300,
                 "best": False}])
    assert [(c.step, c.best) for c in view.checkpoints] == [(270, True), (300, False)]
    view.apply([{"type": "checkpoint", "path": "/r/checkpoints/step-00000300", "step": 300,
                 "best": True}])
    assert [(c.step, c.best) for c in view.checkpoints] == [(270, False), (300, True)]


def test_the_eta_leaves_out_pauses_and_ends_with_the_run():
    view = RunView()
    view.apply([{"type": "run_started", "t": 1000.0, "step": 0, "total_steps": 100},
                {"type": "step", "t": 1010.0, "step": 10, "loss": {"total": 1.0}},
                {"type": "state", "t": 1010.0, "state": "paused", "step": 10},
                {"type": "state", "t": 1070.0, "state": "running", "step": 10},
                {"type": "step", "t": 1080.0, "step": 20, "loss": {"total": 1.0}}])
    assert view.eta_seconds() == pytest.approx(80.0)   # 20 steps in 20 s trained, 80 to go
    view.apply([{"type": "state", "t": 1081.0, "state": "stopped", "step": 20}])
    assert view.eta_seconds() is None


def test_help_scrolls_and_the_quit_dialog_shows_every_button(monkeypatch):
    from tui.screens import QuitScreen

    monkeypatch.chdir(ROOT)

    async def scenario():
        app = RedHeartApp(attach=RECORDED)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: app.screen.query("#help-box"))
            box = app.screen.query_one("#help-box")
            assert box.max_scroll_y > 0           # taller than the screen: the keys scroll it
            await pilot.press("end")
            await wait_for(pilot, lambda: box.scroll_y == box.max_scroll_y)
            await pilot.press("escape")
            app.push_screen(QuitScreen(in_process=True))
            await wait_for(pilot, lambda: app.screen.query("#quit-box"))
            inside = app.screen.query_one("#quit-box").content_region
            for button in app.screen.query("#quit-box Button"):
                assert inside.contains_region(button.region), button.id

    asyncio.run(scenario())


def test_a_bug_in_the_training_thread_is_shown_with_its_trace(quickstart_data, tmp_path,
                                                               monkeypatch):
    import redheart.train.run as run

    def broken(*_args, **_kwargs):
        raise ValueError("a made-up bug")

    monkeypatch.setattr(run, "run_training", broken)

    async def scenario():
        app = _run_app(quickstart_data, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.training_done.is_set()
                           and app.view.state == "failed")
            log = "".join(strip.text for strip in app.query_one("#messages").lines)
            assert "a bug in Red Heart" in log and "ValueError: a made-up bug" in log

    asyncio.run(scenario())


SPY_SSH = """\
import json, os, sys
with open(sys.argv[1], "a") as f:     # is this child's stdin /dev/null?
    f.write(json.dumps(os.path.samestat(os.fstat(0), os.stat(os.devnull))) + "\\n")
if sys.argv[4] == "runs":
    print("[]")
"""


def test_no_ssh_child_reads_the_consoles_keyboard(tmp_path):
    """ssh reading the terminal took the console's keystrokes (a swallowed Tab put the
    quit dialog's focus on Stop): every ssh child gets /dev/null for stdin, whatever fd 0
    the console has (here a pipe, as a terminal would be)."""
    import os
    import sys

    from tui.event_source import SshController, SshEventSource
    from tui.runs_source import SshRuns

    spy, record = tmp_path / "spy_ssh.py", tmp_path / "stdin.jsonl"
    spy.write_text(SPY_SSH)
    ssh = f"{sys.executable} {spy} {record}"
    read_end, write_end = os.pipe()
    saved = os.dup(0)
    os.dup2(read_end, 0)
    try:
        source = SshEventSource("box:/runs/x", ssh)
        source._process.wait(30)
        source.close()
        SshController("box:/runs/x", ssh).send("pause")
        SshRuns("box", "/runs", ssh).runs()
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read_end, write_end):
            os.close(fd)
    assert [json.loads(line) for line in record.read_text().splitlines()] == [True] * 3


def test_the_quit_dialog_focuses_the_choice_that_keeps_the_run(monkeypatch):
    """Enter in the quit dialog must not stop a run: Leave/Detach has the focus."""
    from tui.screens import QuitScreen

    monkeypatch.chdir(ROOT)

    async def scenario(in_process: bool) -> list[str | None]:
        chosen: list[str | None] = []
        app = RedHeartApp(attach=RECORDED)
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(QuitScreen(in_process=in_process), chosen.append)
            await wait_for(pilot, lambda: app.screen.query("#quit-box"))
            await pilot.pause()
            assert app.screen.focused is not None and app.screen.focused.id == "leave"
            await pilot.press("enter")
            await wait_for(pilot, lambda: chosen)
        return chosen

    for in_process in (True, False):
        assert asyncio.run(scenario(in_process)) == ["leave"]


def test_a_remote_run_path_with_a_space_is_followed_and_controlled(tmp_path):
    """ssh hands its words to the far side's shell: the run directory is quoted."""
    import shutil
    import sys

    from tui.event_source import SshController, SshEventSource

    run = tmp_path / "my runs" / "run one"
    shutil.copytree(ROOT / RECORDED, run)
    expected = len((run / "events.jsonl").read_text().splitlines())
    ssh = f"{sys.executable} {ROOT / 'tests' / 'fake_ssh.py'}"
    remote_redheart = f"{sys.executable} -m redheart"
    source = SshEventSource(f"box:{run}", ssh, remote_redheart)
    try:
        source._process.wait(60)          # a finished run: --follow ends after its end
        source._reader.join(10)
        assert source.error is None
        assert len(source.poll()) == expected
    finally:
        source.close()
    from redheart.runs.run_dir import RunLock

    lock = RunLock(run)                   # control goes only to a live run
    lock.acquire()
    try:
        SshController(f"box:{run}", ssh, remote_redheart).send("set-lr", 2e-4)
    finally:
        lock.release()
    sent = json.loads((run / "control").read_text().splitlines()[-1])
    assert sent["cmd"] == "set-lr" and sent["lr"] == 2e-4


def test_a_remote_that_fails_says_so_in_the_run_panel_and_the_title(tmp_path):
    """A failed stream (no redheart there, or no such run) stays on screen: the Run
    panel's log and state and the title, not only a toast; 127 names --remote-redheart."""
    import sys

    ssh = f"{sys.executable} {ROOT / 'tests' / 'fake_ssh.py'}"

    async def scenario(remote: str, remote_redheart: str, expected: str) -> None:
        app = RedHeartApp(remote=remote, ssh_command=ssh, remote_redheart=remote_redheart)
        async with app.run_test(size=(120, 40)) as pilot:
            def log() -> str:
                return "".join(strip.text for strip in app.query_one("#messages").lines)

            await wait_for(pilot, lambda: "ssh exited" in log(), timeout=60)
            assert expected in log()
            assert str(app.query_one("#run-state", Static).render()) == "disconnected"
            assert "not followed" in app.sub_title and expected in app.sub_title
            assert "loading" not in str(app.query_one("#modules-status", Static).render())

    asyncio.run(scenario(f"box:{tmp_path / 'run'}", "no-such-redheart-here",
                         "--remote-redheart /path/to/venv/bin/redheart"))
    asyncio.run(scenario(f"box:{tmp_path / 'no such run'}", f"{sys.executable} -m redheart",
                         "no such run"))


def test_the_checkpoint_list_drops_what_keep_last_pruned_and_keeps_the_best(tmp_path):
    """The list follows the disk: `_prune` itself runs on real folders beside the view,
    keep_last from run_started's config, the best and last pointers pinned (the panel
    showed 162, 180, 198, 200 while the disk held 126*, 180, 198, 200)."""
    from pathlib import PurePath

    from redheart.runs.checkpoints import _prune, _write_pointer, checkpoint_name
    from tui.widgets.run_panel import checkpoints_text

    def replay(keep_last: int, saves: list[tuple[int, bool]]) -> RunView:
        root = tmp_path / f"keep{keep_last}" / "checkpoints"
        root.mkdir(parents=True)
        view = RunView()
        view.apply([{"type": "run_started", "t": 1.0, "step": 0, "total_steps": 200,
                     "config": f"[run]\nname = \"x\"\n\n[checkpoint]\nkeep_last = {keep_last}\n"}])
        for step, best in saves:
            name = checkpoint_name(step)
            (root / name).mkdir(exist_ok=True)
            _write_pointer(root, "last", name)
            if best:
                _write_pointer(root, "best", name)
            _prune(root, keep_last)
            view.apply([{"type": "checkpoint", "path": str(root / name), "step": step,
                         "best": best}])
            on_disk = sorted(p.name for p in root.glob("step-*"))
            assert [PurePath(c.path).name for c in view.checkpoints] == on_disk, step
        return view

    saves = [(s, s in (18, 54, 126)) for s in range(18, 199, 18)] + [(200, False), (200, False)]
    view = replay(3, saves)
    assert [(c.step, c.best) for c in view.checkpoints] == \
        [(126, True), (180, False), (198, False), (200, False)]
    assert checkpoints_text(view).startswith("checkpoints: step 126*, 180, 198, 200\n")
    view = replay(5, saves)                    # more than the panel lists: the best still is
    assert [c.step for c in view.checkpoints] == [126, 144, 162, 180, 198, 200]
    assert checkpoints_text(view).startswith("checkpoints: step 126*, 180, 198, 200\n")
    view = replay(1, [(10, True), (20, False), (30, True), (40, False)])
    assert [(c.step, c.best) for c in view.checkpoints] == [(30, True), (40, False)]


def test_stop_chosen_after_the_own_run_ended_needs_nothing_and_raises_nothing(tmp_path):
    """The quit dialog stayed open while the run's last steps ran: its Stop then has no
    live run to reach, and must not fail (the refusal kept the console from exiting)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.jsonl").write_text(json.dumps(
        {"v": 1, "seq": 0, "t": 1.0, "type": "run_finished", "summary": {"reason": "done"}})
        + "\n")
    app = RedHeartApp()
    assert app._commit_or_cancel() is False
    app.mark_started(run)
    app.training_done.set()
    assert app.stop_own_run() is False
    assert not (run / "control").exists()


def test_a_remote_path_under_home_is_expanded_by_the_far_side(tmp_path, monkeypatch):
    """`--remote box:~/runs/NAME`: the `~` is left to the far side's shell (quoting it
    asked `redheart` for a folder named `~`); the rest stays quoted."""
    import shutil
    import sys

    from tui.event_source import SshEventSource, remote_path

    assert remote_path("~/my runs/a") == "~/'my runs/a'" and remote_path("~") == "~"
    assert remote_path("/x/~y z") == "'/x/~y z'"
    run = tmp_path / "my runs" / "run one"
    shutil.copytree(ROOT / RECORDED, run)
    monkeypatch.setenv("HOME", str(tmp_path))
    ssh = f"{sys.executable} {ROOT / 'tests' / 'fake_ssh.py'}"
    source = SshEventSource("box:~/my runs/run one", ssh, f"{sys.executable} -m redheart")
    try:
        source._process.wait(60)
        source._reader.join(10)
        assert source.error is None
        assert len(source.poll()) == len((run / "events.jsonl").read_text().splitlines())
    finally:
        source.close()


def test_a_stop_is_a_cancel_during_the_data_read_and_a_pending_stop_after_it():
    """Before `run_training`'s last cancel check a Stop cancels the start (no folder);
    after it, while the folder is made, it is kept and sent as training starts: calling
    that a cancel said "no run folder is made" of a run that went on to make one."""
    reading = RedHeartApp()
    assert reading.cancel_start() is True
    assert reading._commit_or_cancel() is True             # the training thread ends it
    committed = RedHeartApp()
    assert committed._commit_or_cancel() is False
    assert committed.cancel_start() is False and not committed.start_cancelled
    assert committed.mark_started(Path("/runs/x")) is True  # the started hook sends stop
    running = RedHeartApp()
    running._commit_or_cancel()
    assert running.mark_started(Path("/runs/x")) is False   # nothing was pressed
