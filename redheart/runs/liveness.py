"""Whether a run directory's run is still alive, and how it ended when it is not.

The run's `lock` file is held under a POSIX record lock by the process that
trains (run_dir.py); the kernel drops it however that process ends. So a
reader can tell a live run from a dead one without a heartbeat: it asks
the kernel who holds the lock (F_GETLK), which takes nothing and so can
never make a starting run see the directory as busy. A run that is not
live and whose last launch wrote neither `run_finished` nor `error` was
killed (SIGKILL, a lost node, the OOM killer).
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import time
from pathlib import Path
from typing import Any

from redheart.runs.run_dir import holds_lock_here, in_use

_FLOCK = "hhqqi"
"""Linux's struct flock: l_type, l_whence, l_start, l_len, l_pid (natively aligned)."""


def lock_holder(run_dir: Path) -> int | None:
    """The pid holding the run's lock, or None when no live process holds it."""
    path = run_dir / "lock"
    if holds_lock_here(path):   # opening and closing our own lock file would drop it
        return os.getpid()
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if sys.platform.startswith("linux"):
            query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
            answer = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))
            return answer[4] if answer[0] != fcntl.F_UNLCK else None
        try:            # elsewhere: try for the lock and give it straight back
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return -1
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def ending_after(ending: str | None, event: dict[str, Any]) -> str | None:
    """How the newest launch has ended, once `event` is seen: None (not yet), "finished",
    "stopped" or "failed". Each launch opens with its `plan`, which starts afresh; an
    error stands even when the `run_finished` of the way out follows it."""
    kind = event.get("type")
    if kind == "plan":
        return None
    if kind == "error":
        return "failed"
    if kind == "run_finished" and ending is None:
        reason = (event.get("summary") or {}).get("reason")
        return "stopped" if reason == "stopped" else "finished"
    return ending


def run_status(run_dir: Path, tail: list[dict[str, Any]]) -> str:
    """"live", or how the newest launch ended: "finished", "stopped", "failed", or
    "killed" (its lock is free and it said nothing of its end).

    `tail` may be just the last events of the file: a launch's ending is its
    last word, so it is in any tail that holds the launch's last events, and a
    tail without the launch's `plan` holds nothing of an older launch.
    """
    if lock_holder(run_dir) is not None:
        return "live"
    ending = None
    for event in tail:
        ending = ending_after(ending, event)
    return ending or "killed"


def refuse_live_run(run_dir: Path) -> None:
    """Refuse a directory another process trains in, before any work: the lock itself is
    taken only just before the first write, so without this a second launch would plan,
    read its data and compare configs against checkpoints the live run is pruning."""
    pid = lock_holder(run_dir)
    if pid is not None and pid != os.getpid():
        raise in_use(run_dir, pid)


class EndWatch:
    """Tells a follower of `events.jsonl` when the run it follows has ended.

    It keeps only what the verdict needs (how the newest launch ended so
    far, its last event and step), so following a week-long run stays small.
    The lock is asked about only after `check_every_s` without new events.
    """

    def __init__(self, run_dir: Path, check_every_s: float = 1.0) -> None:
        self.run_dir = run_dir
        self.check_every_s = check_every_s
        self._ending: str | None = None
        """"finished", "stopped" or "failed" once the newest launch said so."""
        self._last: dict[str, Any] = {}
        self._step: int | None = None
        self._quiet_since = time.monotonic()

    def see(self, batch: list[dict[str, Any]]) -> None:
        for event in batch:
            self._ending = ending_after(self._ending, event)
            if event.get("type") == "plan":
                self._step = None
            if isinstance(event.get("step"), int):
                self._step = event["step"]
            self._last = event
        if batch:
            self._quiet_since = time.monotonic()

    def ended(self, at_once: bool = False) -> str | None:
        """None while the run may be live; else "finished", "stopped", "failed" or
        "killed" (not live, and its newest launch said nothing of its end).

        `at_once` asks the lock now, not after `check_every_s` of quiet: a follower that
        has just read `run_finished` need not wait to learn whether a launch is live."""
        if not at_once and time.monotonic() - self._quiet_since < self.check_every_s:
            return None
        self._quiet_since = time.monotonic()
        if lock_holder(self.run_dir) is not None:
            return None
        return self._ending or "killed"

    def killed_event(self) -> dict[str, Any]:
        """The item a follower adds when the run died without a word: not written to the
        file (like a `gap`), so it has no seq; its `t` is when the follower found out."""
        return {"type": "killed", "t": time.time(), "step": self._step,
                "last_seq": self._last.get("seq"), "last_t": self._last.get("t")}
