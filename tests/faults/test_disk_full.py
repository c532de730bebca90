"""A disk that fills up during a run: the run ends with one clear line (exit 1), earlier
checkpoints stay loadable, no half-written file is left, and `--resume last` goes on.

The filesystem is a real tmpfs with a size limit, mounted in a private user and
mount namespace (`unshare -rm`), so the writes fail with a real ENOSPC.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(),
                    reason="needs `unshare -rm` (user namespaces) to mount a tiny tmpfs")
def test_a_full_disk_ends_the_run_clearly_and_keeps_earlier_checkpoints(quickstart_data,
                                                                        tmp_path):
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(["unshare", "-rm", sys.executable, "tests/faults/tiny_disk.py",
                           "--mount", str(mount), "--cache",
                           str(quickstart_data[0].data.cache_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # see launch()
    if done.returncode == 97:
        pytest.skip(f"tmpfs cannot be mounted here: {done.stdout.strip()}")
    assert done.returncode == 0, done.stderr
    checkpoint, events = json.loads(done.stdout.splitlines()[-1])
    run = mount / "run"

    # A checkpoint did not fit: its write failed, the folder was removed, the first stays.
    assert checkpoint["exit"] == 1
    assert len(checkpoint["stderr"]) == 1, checkpoint["stderr"]
    failed = re.fullmatch(r"error: checkpoint write of step-(\d+) failed: \[Errno 28\] No "
                          r"space left on device; earlier checkpoints are intact; free disk "
                          r"space, then continue with --resume last", checkpoint["stderr"][0])
    assert failed and int(failed[1]) > 5, checkpoint["stderr"][0]
    assert checkpoint["newest"] == "step-00000005" and checkpoint["loadable"]
    assert checkpoint["partial"] == []
    assert checkpoint["last_event"] == "error"      # there was room for the error event again
    assert checkpoint["events_end_with_newline"] and checkpoint["seq_gaps"] == []

    # Resumed, then every block taken: an event write failed and nothing was cut.
    assert events["exit"] == 1
    assert events["stderr"] == [
        f"error: {run}/events.jsonl: cannot write events (No space left on device); free disk "
        f"space or fix the run directory, then continue with --resume last"]
    assert events["resumed_step"] == 5
    assert events["newest_step"] > 5 and events["loadable"] and events["partial"] == []
    assert events["events_end_with_newline"] and events["seq_gaps"] == []
    assert events["free_mib"] == 0.0
