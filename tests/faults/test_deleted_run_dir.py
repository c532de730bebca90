"""A run whose directory is deleted under it stops, and never recreates the directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from redheart.runs.events import EventsWriteError, EventWriter, read_events
from tests.conftest import ROOT


def test_an_events_file_deleted_under_the_writer_stops_it(tmp_path):
    writer = EventWriter(tmp_path / "events.jsonl")
    writer.emit("state", state="running")
    (tmp_path / "events.jsonl").unlink()
    with pytest.raises(EventsWriteError, match="events.jsonl: deleted while the run was "
                                               "writing it"):
        writer.emit("state", state="running")
    with pytest.raises(EventsWriteError):          # and every later event
        writer.emit("warning", message="x")
    writer.close()
    assert not (tmp_path / "events.jsonl").exists()


def test_a_run_whose_directory_is_deleted_stops_with_one_line(tmp_path, quickstart_data):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "redheart", "run", "profiles/quickstart.toml", "--quiet",
         "--set", f'data.cache_dir="{quickstart_data[0].data.cache_dir}"',
         "--set", "train.max_steps=100000", "--set", "checkpoint.every_steps=2",
         "--run-dir", str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run_dir / "checkpoints" / "last").exists():
            time.sleep(0.05)
        assert any(e["type"] == "step" for e in read_events(run_dir / "events.jsonl"))
        shutil.rmtree(run_dir)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr
    assert stderr.startswith(f"error: {run_dir}/events.jsonl: deleted while the run was "
                             f"writing it"), stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not run_dir.exists()                      # no checkpoints/ recreated for nobody
