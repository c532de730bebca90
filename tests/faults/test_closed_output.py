"""A run whose log reader goes away (`| tee` killed with its SSH session) keeps training."""

from __future__ import annotations

import os
import subprocess
import sys

from redheart.render.reader_gone import ReaderGoneSafe
from redheart.runs.events import read_events
from tests.conftest import ROOT


def test_a_closed_pipe_drops_the_output_instead_of_raising(tmp_path):
    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w")
    os.close(read_end)                       # the reader is gone
    safe = ReaderGoneSafe(stream)
    assert safe.write("step 1/8\n") == len("step 1/8\n")
    safe.flush()                             # the line meets the closed pipe here
    assert safe.gone
    safe.write("step 2/8\n")                 # and the next ones go to /dev/null
    safe.flush()
    assert os.path.samestat(os.fstat(stream.fileno()), os.stat(os.devnull))
    stream.close()                           # the buffered text flushes without an error


def test_run_finishes_with_its_checkpoint_when_its_stdout_pipe_closes(tmp_path,
                                                                       quickstart_data):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "redheart", "run", "profiles/quickstart.toml", "--samples", "40",
         "--set", f'data.cache_dir="{quickstart_data[0].data.cache_dir}"',
         "--set", "train.max_steps=4", "--set", "checkpoint.every_steps=100",
         "--verbose", "--run-dir", str(run_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "run directory" in proc.stdout.readline()
        proc.stdout.close()                  # as `head -1` or a killed `tee` does
        _, stderr = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert stderr == ""
    finished = [e for e in read_events(run_dir / "events.jsonl") if e["type"] == "run_finished"]
    assert [(f["summary"]["reason"], f["summary"]["steps"]) for f in finished] == [("done", 4)]
    assert (run_dir / "checkpoints" / "last").read_text().strip() == "step-00000004"
