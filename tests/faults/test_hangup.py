"""SIGHUP (an SSH session that ends under a run) checkpoints and stops, as SIGTERM does;
under nohup, which ignores it, the run goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from redheart.runs.events import read_events
from tests.conftest import ROOT


def _launch(run_dir: Path, cache: Path, stdout: int, nohup: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "redheart", "run", "profiles/quickstart.toml",
         "--set", f'data.cache_dir="{cache}"', "--set", "train.max_steps=100000",
         "--set", "checkpoint.every_steps=100000", "--run-dir", str(run_dir)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) if nohup else None)


def _steps(run_dir: Path) -> list[int]:
    path = run_dir / "events.jsonl"
    return [e["step"] for e in read_events(path) if e["type"] == "step"] if path.exists() else []


def _wait_for_step(run_dir: Path, after: int = 0) -> int:
    deadline = time.time() + 120
    while time.time() < deadline:
        if (steps := _steps(run_dir)) and steps[-1] > after:
            return steps[-1]
        time.sleep(0.05)
    raise TimeoutError(f"no step after {after}")


def test_a_hang_up_with_the_terminal_gone_checkpoints_and_exits_0(tmp_path, quickstart_data):
    run_dir = tmp_path / "run"
    terminal, tty = os.openpty()                  # the SSH session's terminal
    proc = _launch(run_dir, quickstart_data[0].data.cache_dir, tty)
    os.close(tty)
    try:
        _wait_for_step(run_dir)
        os.close(terminal)                        # the session ends: writes now fail (EIO)
        proc.send_signal(signal.SIGHUP)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    events = list(read_events(run_dir / "events.jsonl"))
    stopping = [e for e in events if e["type"] == "state" and e.get("signal")]
    assert [e["signal"] for e in stopping] == ["SIGHUP"]
    finished = events[-1]
    assert finished["type"] == "run_finished" and finished["summary"]["reason"] == "stopped"
    step = finished["summary"]["steps"]
    assert (run_dir / "checkpoints" / "last").read_text().strip() == f"step-{step:08d}"


def test_under_nohup_a_hang_up_is_ignored(tmp_path, quickstart_data):
    run_dir = tmp_path / "run"
    proc = _launch(run_dir, quickstart_data[0].data.cache_dir, subprocess.DEVNULL, nohup=True)
    try:
        hung_up_at = _wait_for_step(run_dir)
        proc.send_signal(signal.SIGHUP)
        _wait_for_step(run_dir, after=hung_up_at + 1)      # it trains on
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    signals = [e.get("signal") for e in read_events(run_dir / "events.jsonl")
               if e["type"] == "state" and e.get("signal")]
    assert signals == ["SIGTERM"]
