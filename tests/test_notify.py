"""When a run notifies, what it says, and that a failing notification never stops training.

The whole path through apprise from a real run is in test_run_outputs.py;
these drive the notifier with events as the trainer writes them.
"""

from __future__ import annotations

import threading
import time

from redheart.config import NotifyConfig
from redheart.notify.rules import Notice, notice_for
from redheart.notify.sender import AppriseSender, Notifier
from redheart.notify.stall import StallWatch
from redheart.runs.events import EventWriter, read_events
from tests.notify_server import notification_inbox, received

FINISHED = {"type": "run_finished", "summary": {
    "reason": "done", "steps": 300, "best_loss": 1.23456, "final_loss": 0.5,
    "last_checkpoint": "runs/q/checkpoints/step-00000300"}}
NONFINITE = {"type": "error", "message": "non-finite gradient in module 'backbone' at step 7",
             "hint": "lower train.lr", "step": 7, "cause": "nonfinite"}


def test_the_rules_pick_the_kind_level_and_words():
    done = notice_for(FINISHED, "q-1")
    assert done == Notice("finish", "q-1 finished", "step 300; best eval loss 1.235; final "
                          "training loss 0.5; last checkpoint runs/q/checkpoints/step-00000300",
                          "success")
    stopped = notice_for({"type": "run_finished", "summary": {"reason": "stopped",
                                                               "steps": 12}}, "q-1")
    assert (stopped.kind, stopped.title, stopped.level) == ("finish", "q-1 stopped at step 12",
                                                            "info")
    nan = notice_for(NONFINITE, "q-1")
    assert (nan.kind, nan.title, nan.level) == ("nonfinite", "q-1: non-finite loss at step 7",
                                                "failure")
    assert nan.body == "non-finite gradient in module 'backbone' at step 7; lower train.lr"
    failed = notice_for({"type": "error", "message": "rank 1 was lost"}, "q-1")
    assert (failed.kind, failed.body) == ("error", "rank 1 was lost")
    stall = notice_for({"type": "stall", "step": 40, "minutes": 10}, "q-1")
    assert (stall.kind, stall.level) == ("stall", "warning") and "10 minutes" in stall.body
    assert notice_for({"type": "killed", "step": 5}, "q-1").kind == "error"
    for quiet in ("step", "eval", "memory", "checkpoint", "warning", "state", "plan"):
        assert notice_for({"type": quiet, "step": 1}, "q-1") is None


def test_a_stall_is_told_once_while_running_and_not_while_paused():
    now = [0.0]
    watch = StallWatch(minutes=1, clock=lambda: now[0])
    now[0] = 600.0
    assert watch.due() is None                          # not started: building the model
    watch.see({"type": "run_started", "step": 0})
    watch.see({"type": "step", "step": 5})
    now[0] += 59
    assert watch.due() is None
    now[0] += 2
    assert watch.due() == {"type": "stall", "step": 5, "minutes": 1}
    assert watch.due() is None                          # once per stall
    watch.see({"type": "step", "step": 6})
    watch.see({"type": "state", "state": "paused"})
    now[0] += 3600
    assert watch.due() is None                          # paused by its user
    watch.see({"type": "state", "state": "running"})
    now[0] += 30
    assert watch.due() is None                          # the pause did not count
    now[0] += 31
    assert watch.due()["step"] == 6
    watch.see({"type": "run_finished", "summary": {}})
    now[0] += 3600
    assert watch.due() is None


class _Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Notice] = []
        self.fail = fail
        self.arrived = threading.Event()

    def __call__(self, notice: Notice) -> list[str]:
        self.sent.append(notice)
        self.arrived.set()
        if self.fail:
            raise ConnectionError("network is unreachable")
        return []


def test_the_notifier_sends_what_on_selects_and_watches_for_stalls():
    warnings: list[str] = []
    sender = _Recorder()
    config = NotifyConfig(urls=("json://unused",), on=("nonfinite", "stall"),
                          stall_minutes=0.005)     # 0.3 s
    notifier = Notifier(config, "q-1", warnings.append, send=sender, tick_s=0.05)
    notifier({"type": "run_started", "step": 0})
    assert sender.arrived.wait(5)                  # the stall, found by the watchdog
    notifier(NONFINITE)
    notifier(FINISHED)                             # not selected by `on`
    notifier.close()
    assert [n.kind for n in sender.sent] == ["stall", "nonfinite"] and warnings == []


def test_a_failing_send_is_one_warning_event_and_emit_goes_on(tmp_path):
    events = EventWriter(tmp_path / "events.jsonl")
    sender = _Recorder(fail=True)
    notifier = Notifier(NotifyConfig(urls=("json://unused",)), "q-1",
                        lambda m: events.emit("warning", message=m), send=sender)
    events.add_listener(notifier)
    events.emit("run_started", step=0)
    start = time.monotonic()
    events.emit("run_finished", summary=FINISHED["summary"])
    assert time.monotonic() - start < 0.5           # the send is not on the emitting thread
    notifier.close()
    events.close()
    warnings = [e for e in read_events(tmp_path / "events.jsonl") if e["type"] == "warning"]
    assert [w["message"] for w in warnings] == [
        "notify: 'q-1 finished' was not sent: ConnectionError: network is unreachable"]


def test_a_listener_that_raises_is_dropped_with_a_warning(tmp_path):
    events = EventWriter(tmp_path / "events.jsonl")
    heard: list[str] = []

    def broken(event: dict) -> None:
        raise OSError("no space left on device")

    events.add_listener(broken)
    events.add_listener(lambda e: heard.append(e["type"]))
    events.emit("step", step=1)
    events.emit("step", step=2)
    events.close()
    written = list(read_events(tmp_path / "events.jsonl"))
    assert [e["type"] for e in written] == ["step", "warning", "step"]
    assert written[1]["message"] == "broken: stopped after an error (no space left on device)"
    assert heard == ["step", "warning", "step"]


def test_apprise_posts_to_a_json_endpoint(tmp_path):
    with notification_inbox(tmp_path / "inbox.jsonl") as url:
        failures = AppriseSender((url,), warn=lambda m: None).send(
            Notice("stall", "q-1 stalled", "no training step for 10 minutes", "warning"))
    assert failures == []
    assert [(n["title"], n["message"], n["type"]) for n in received(tmp_path / "inbox.jsonl")] \
        == [("q-1 stalled", "no training step for 10 minutes", "warning")]
