"""A run's liveness from its lock, and how followers report a run that died without a word."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from redheart.runs.events import follow_events
from redheart.runs.liveness import lock_holder
from redheart.runs.run_dir import RunLock
from tests.faults.harness import HOLD
from tui.event_source import FileEventSource
from tui.run_view import RunView


def _run_dir(tmp_path, *extra: dict) -> object:
    run = tmp_path / "run"
    run.mkdir()
    events = [{"seq": 0, "t": 1.0, "type": "plan"},
              {"seq": 1, "t": 2.0, "type": "run_started", "step": 0, "total_steps": 10},
              {"seq": 2, "t": 3.0, "type": "step", "step": 3, "loss": {"total": 1.0}},
              *({"seq": 3 + i, "t": 4.0, **e} for i, e in enumerate(extra))]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run / "lock").write_text("4242\n")             # a pid, but nobody holds the lock
    return run


def _follow(run, limit_s: float) -> list[dict] | None:
    """Everything a follower yields, or None if it is still following after `limit_s`."""
    out: list[dict] = []
    done = threading.Event()

    def go() -> None:
        out.extend(follow_events(run, follow=True, poll_s=0.05))
        done.set()

    threading.Thread(target=go, daemon=True).start()
    return out if done.wait(limit_s) else None


def test_a_free_lock_without_run_finished_reads_as_killed(tmp_path):
    run = _run_dir(tmp_path)
    assert lock_holder(run) is None
    seen = _follow(run, 5)
    assert seen is not None, "the follower waited forever on a dead run"
    assert [e["type"] for e in seen] == ["plan", "run_started", "step", "killed"]
    before = time.time()
    found = seen[-1].pop("t")
    assert seen[-1] == {"type": "killed", "step": 3, "last_seq": 2, "last_t": 3.0}
    assert before - 10 < found <= time.time()    # when it was found out, not the epoch


def test_a_failed_run_ends_the_follower_without_a_killed_item(tmp_path):
    run = _run_dir(tmp_path, {"type": "error", "message": "rank 1 was lost"})
    seen = _follow(run, 5)
    assert seen is not None and seen[-1]["type"] == "error"


def test_a_held_lock_is_live_until_its_process_dies(tmp_path):
    run = _run_dir(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run / "lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert lock_holder(run) == holder.pid
        follower: list[dict] = []
        thread = threading.Thread(target=lambda: follower.extend(
            follow_events(run, follow=True, poll_s=0.05)), daemon=True)
        thread.start()
        thread.join(2.0)
        assert thread.is_alive()                      # live: it keeps following
        holder.kill()
        holder.wait()
        thread.join(5.0)
        assert not thread.is_alive() and follower[-1]["type"] == "killed"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_this_process_holding_the_lock_is_live_and_keeps_it(tmp_path):
    """The console trains in-process: asking must not open and close the lock file, which
    would drop the process's own POSIX lock."""
    run = _run_dir(tmp_path)
    (run / "lock").unlink()
    lock = RunLock(run)
    lock.acquire()
    try:
        assert lock_holder(run) is not None
        other = subprocess.run([sys.executable, "-c", "import fcntl, os, sys; "
                                "fd = os.open(sys.argv[1], os.O_RDWR); "
                                "fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)",
                                str(run / "lock")], capture_output=True)
        assert other.returncode != 0                  # still locked against others
    finally:
        lock.release()


def test_the_console_shows_killed(tmp_path):
    run = _run_dir(tmp_path)
    source, view = FileEventSource(run), RunView()
    deadline = time.monotonic() + 5
    while view.state != "killed" and time.monotonic() < deadline:
        view.apply(source.poll())
        time.sleep(0.1)
    assert view.state == "killed" and view.step == 3
    assert view.messages[-1] == ("error", "the run was killed after step 3 (no run_finished, "
                                          "its lock is free); continue it with --resume last")


def test_a_resumed_run_is_followed_past_its_earlier_launchs_run_finished(tmp_path):
    """`events --follow` (and so the console's --remote view) read the first launch's
    `run_finished` as the end, and showed a live resumed run as stopped."""
    run = _run_dir(tmp_path, {"type": "run_finished", "summary": {"reason": "stopped"}},
                   {"type": "plan"}, {"type": "run_started", "step": 3, "total_steps": 10})
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run / "lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        follower: list[dict] = []
        thread = threading.Thread(target=lambda: follower.extend(
            follow_events(run, follow=True, poll_s=0.05)), daemon=True)
        thread.start()
        thread.join(1.5)
        assert thread.is_alive(), [e["type"] for e in follower]      # the second launch
        with (run / "events.jsonl").open("a") as f:
            f.write(json.dumps({"seq": 6, "t": 9.0, "type": "step", "step": 4}) + "\n")
            f.write(json.dumps({"seq": 7, "t": 9.5, "type": "run_finished",
                                "summary": {"reason": "done"}}) + "\n")
        holder.kill()                                 # the launch ends and frees its lock
        holder.wait()
        thread.join(5.0)
        assert not thread.is_alive()
        assert [e["type"] for e in follower][-3:] == ["run_started", "step", "run_finished"]
    finally:
        if holder.poll() is None:
            holder.kill()
