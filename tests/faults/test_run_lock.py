"""The run-directory lock: a live holder refuses others; a SIGKILLed holder's lock is stale."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from redheart.runs.run_dir import RunDirError, RunLock
from tests.conftest import ROOT

HOLDER = """
import sys, time
from pathlib import Path
from redheart.runs.run_dir import RunLock
RunLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_live_holder_refuses_and_a_killed_one_leaves_a_stale_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirError, match=rf"in use by a live run \(pid {holder.pid}\)"):
            RunLock(tmp_path).acquire()
        assert (tmp_path / "lock").read_text().strip() == str(holder.pid)  # left as it was
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / "lock").read_text().strip() == str(holder.pid)      # nobody removed it
    lock = RunLock(tmp_path)
    lock.acquire()
    assert lock.stale_pid == holder.pid
    assert (tmp_path / "lock").read_text().strip() == str(os.getpid())
    with pytest.raises(RunDirError, match="in use by a live run in this process"):
        RunLock(tmp_path).acquire()
    lock.release()
    assert not (tmp_path / "lock").exists()


def test_a_recycled_pid_does_not_make_a_stale_lock_look_live(tmp_path):
    # The pid in the file is alive (this very test process's parent), but nobody holds
    # the lock: the run that wrote it is gone, so the lock is stale.
    (tmp_path / "lock").write_text(f"{os.getppid()}\n")
    lock = RunLock(tmp_path)
    lock.acquire()
    assert lock.stale_pid == os.getppid()
    lock.release()
