"""The console's bell and OSC 9 notice for the run it shows: finish, error, non-finite stop,
stall and a killed run, never for history (a run opened after it ended)."""

from __future__ import annotations

import asyncio
import shutil
import time

from redheart.runs.run_dir import RunLock
from tests.conftest import ROOT
from tests.test_tui import RECORDED, recorded_events, wait_for
from tui.app import RedHeartApp
from tui.notices import FRESH_S, NoticeWatch, osc9


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_history_is_silent_and_a_run_seen_live_notifies_its_end():
    events = recorded_events()
    replay = NoticeWatch("old", 10, now=lambda: events[-1]["t"])
    assert replay.batch(events, live_after=False) == []        # opened after its end

    live = NoticeWatch("quickstart", 10, now=lambda: events[-1]["t"] + 1)
    assert live.batch(events[:-3], live_after=True) == []      # the run so far
    [finished] = live.batch(events[-3:], live_after=False)
    assert finished.kind == "finish" and finished.title == "quickstart finished"
    assert "best eval loss 3.891" in finished.body


def test_errors_non_finite_stops_killed_and_old_events():
    clock = Clock()
    watch = NoticeWatch("r", 10, now=clock)
    watch.batch([{"type": "run_started", "t": 1000.0, "step": 0}], live_after=True)
    [nonfinite] = watch.batch([{"type": "error", "t": 1000.0, "step": 7, "cause": "nonfinite",
                                "message": "loss is nan"}], live_after=False)
    assert nonfinite.kind == "nonfinite" and "step 7" in nonfinite.title
    [killed] = watch.batch([{"type": "killed", "step": 9}], live_after=False)
    assert killed.title == "r was killed"
    assert watch.batch([{"type": "error", "t": 1000.0 - FRESH_S - 1, "message": "x"}],
                       live_after=False) == []                  # history that came late


def test_a_running_run_without_steps_stalls_once():
    clock = Clock()
    watch = NoticeWatch("r", 1, now=clock, clock=clock)
    watch.batch([{"type": "run_started", "t": 1000.0, "step": 0},
                 {"type": "step", "t": 1000.0, "step": 1}], live_after=True)
    clock.now += 59
    assert watch.stalled() is None
    clock.now += 2
    stall = watch.stalled()
    assert stall is not None and stall.kind == "stall" and "last step 1" in stall.body
    assert watch.stalled() is None                              # once per stall


def test_osc9_cannot_be_ended_early_by_the_text():
    assert osc9("done\x07\x1b]9;x") == "\x1b]9;done  ]9;x\x07"
    assert len(osc9("x" * 500)) == len("\x1b]9;\x07") + 200


def test_the_console_rings_when_the_run_it_follows_finishes(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    shutil.copytree(ROOT / RECORDED, run)
    lines = (run / "events.jsonl").read_text().splitlines(keepends=True)
    (run / "events.jsonl").write_text("".join(lines[:-2]))
    lock = RunLock(run)
    lock.acquire()
    written: list[str] = []

    async def scenario():
        app = RedHeartApp(attach=run)
        app.terminal_write = written.append           # the test driver has no terminal
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.view.state == "running")
            await pilot.pause(0.6)
            assert written == []                      # its history rang nothing
            recent = [line.replace('"t":1796001748', f'"t":{int(time.time())}')  # now
                      for line in lines[-2:]]
            with (run / "events.jsonl").open("a") as f:
                f.write("".join(recent))
            lock.release()
            await wait_for(pilot, lambda: written)
            assert written == ["\a" + osc9("run finished: step 30; best eval loss 3.891; "
                                           "final training loss 0.3602; last checkpoint "
                                           "tests/data/recorded_events/checkpoints/"
                                           "step-00000030")]

    try:
        asyncio.run(scenario())
    finally:
        lock.release()
