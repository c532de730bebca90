"""The Try screen through Textual's Pilot, against the real `redheart predict` on a real
quickstart checkpoint: the numbers on screen are the CLI's own, a run without a
checkpoint and a damaged checkpoint say so in one line."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from textual.widgets import Input, Select, Static

from tests.conftest import ROOT, make_trainer
from tests.test_tui import RECORDED, wait_for
from tui.app import RedHeartApp
from tui.try_screen import TryScreen
from tui.widgets.bars import Bars

TEXT = "I finally got the job I wanted and I cannot stop smiling."


@pytest.fixture(scope="module")
def trained_run(quickstart_data, tmp_path_factory) -> Path:
    """A real quickstart run of 3 steps with its checkpoint (shared: training is the cost)."""
    run_dir = tmp_path_factory.mktemp("try") / "run"
    trainer = make_trainer(quickstart_data, run_dir, max_steps=3)
    trainer.fit()
    trainer.close()
    assert (run_dir / "checkpoints" / "best").is_file()
    return run_dir


def status(app) -> str:
    return str(app.screen.query_one("#try-status", Static).render())


async def ask(app, pilot, text: str) -> None:
    """Open the Try screen, type `text`, submit."""
    await wait_for(pilot, lambda: app.view.events_seen > 0)
    await pilot.press("t")
    await wait_for(pilot, lambda: isinstance(app.screen, TryScreen))
    app.screen.query_one("#try-input", Input).value = text
    await pilot.press("enter")


def test_try_shows_the_real_predictions_of_the_runs_best_checkpoint(trained_run):
    import redheart

    # The library's predictor in this process: the same code and JSON as the CLI the
    # screen runs, without a second model load in a subprocess.
    [prediction] = redheart.load(str(trained_run), show_all=True).predict([TEXT])
    expected = prediction.as_json()
    emotion = expected["outputs"]["emotion"]["value"]
    top = max(emotion, key=emotion.get)
    regret = expected["outputs"]["regret"]["value"]
    clients = []

    async def scenario():
        app = RedHeartApp(attach=trained_run)
        async with app.run_test(size=(120, 40)) as pilot:
            await ask(app, pilot, TEXT)
            await pilot.pause(0.05)
            assert "loading the model" in status(app)
            await wait_for(pilot, lambda: "type another text" in status(app)
                           or "error" in status(app), timeout=60)
            assert "type another text" in status(app), status(app)
            rows = str(app.screen.query_one("#try-emotion", Bars).render()).splitlines()
            first = rows[1].split()
            assert first[0] == top and len(rows) == 1 + len(emotion)
            assert float(first[-1].rstrip("%")) == pytest.approx(emotion[top] * 100, abs=0.051)
            regret_line = str(app.screen.query_one("#try-regret", Static).render())
            assert float(regret_line.splitlines()[1].split()[0]) == pytest.approx(regret,
                                                                                abs=0.0051)
            summary = str(app.screen.query_one("#try-summary", Static).render())
            assert f"{expected['tokens']} tokens" in summary
            assert f"step {expected['model']['step']}" in summary
            clients.append(app.screen.client)
            assert clients[0].running                # stays up for the next text

            folder = str(trained_run / "checkpoints" / "step-00000003")
            app.screen.query_one("#try-model", Select).value = folder   # another pick:
            await pilot.pause(0.05)                                    # another process
            assert "loading the model" in status(app) and not clients[0].running
            await wait_for(pilot, lambda: "type another text" in status(app)
                           or "error" in status(app), timeout=60)
            summary = str(app.screen.query_one("#try-summary", Static).render())
            assert folder in summary, summary        # predict names the folder it loaded
            clients.append(app.screen.client)
            assert clients[1].model == folder and clients[1].running
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, TryScreen))
            assert not clients[1].running            # dismissing ends it

    asyncio.run(scenario())


def test_a_run_without_a_checkpoint_says_so_and_starts_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    shutil.copytree(ROOT / RECORDED, run)
    lines = (run / "events.jsonl").read_text().splitlines()
    (run / "events.jsonl").write_text("\n".join(
        line for line in lines if '"type":"checkpoint"' not in line) + "\n")

    async def scenario():
        app = RedHeartApp(attach=run)
        async with app.run_test(size=(120, 40)) as pilot:
            await ask(app, pilot, TEXT)
            await pilot.pause(0.2)
            assert status(app).startswith(f"no checkpoint yet in {run}")
            assert app.screen.client is None

    asyncio.run(scenario())


def test_before_any_run_the_try_screen_says_there_is_none():
    async def scenario():
        app = RedHeartApp()                     # profile mode, nothing started
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("t")
            await wait_for(pilot, lambda: isinstance(app.screen, TryScreen))
            app.screen.query_one("#try-input", Input).value = TEXT
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert status(app).startswith("no run yet")
            assert app.screen.client is None

    asyncio.run(scenario())


def test_a_damaged_checkpoint_shows_predicts_one_line_error(trained_run, tmp_path):
    """Over --remote (a stand-in ssh), so the remote command line is the one exercised."""
    run = tmp_path / "damaged"
    shutil.copytree(trained_run, run)
    best = run / "checkpoints" / (run / "checkpoints" / "best").read_text().strip()
    (best / "model.safetensors").write_bytes(b"not a safetensors file")
    ssh = f"{sys.executable} {ROOT / 'tests' / 'fake_ssh.py'}"

    async def scenario():
        app = RedHeartApp(remote=f"box:{run}", ssh_command=ssh,
                          remote_redheart=f"{sys.executable} -m redheart")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.view.checkpoints, timeout=30)
            await ask(app, pilot, TEXT)
            await wait_for(pilot, lambda: "loading" not in status(app), timeout=60)
            shown = status(app)
            assert shown.startswith("error: ") and "model.safetensors" in shown, shown
            assert "\n" not in shown
            assert app.screen.query_one("#try-status").has_class("error")
            assert app.screen.client is None          # the next text starts a fresh one

    asyncio.run(scenario())
