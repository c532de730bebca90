"""`redheart prepare` on a disk that fills up: one line, exit 1, nothing half-written kept,
and a second `prepare` after freeing space completes (a real tmpfs, `unshare -rm`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.faults.test_disk_full import _unshare_works


@pytest.mark.skipif(not _unshare_works(),
                    reason="needs `unshare -rm` (user namespaces) to mount a tiny tmpfs")
def test_a_full_disk_during_prepare_is_one_line_and_the_next_prepare_completes(tmp_path):
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(["unshare", "-rm", sys.executable, "tests/faults/tiny_disk_prepare.py",
                           "--mount", str(mount)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    if done.returncode == 97:
        pytest.skip(f"tmpfs cannot be mounted here: {done.stdout.strip()}")
    assert done.returncode == 0, done.stderr[-2000:]
    store, cache, recover = json.loads(done.stdout.splitlines()[-1])
    cache_dir = mount / "cache"
    message = ("cannot be written (No space left on device); nothing half-written was kept; "
               "free disk space, then run `redheart prepare PROFILE` again")
    assert store["exit"] == 1 and store["files"] == []
    assert store["stderr"] == [f"error: {cache_dir}/{_first_store(recover)}: {message}"]
    assert cache["exit"] == 1
    assert len(cache["stderr"]) == 1 and cache["stderr"][0].endswith(f"shard-00001.f16: {message}")
    assert all(f.startswith("examples/") or f.endswith("/.claim.lock")   # the writers' turn
               for f in cache["files"])                                  # no shard, no temp
    assert recover["exit"] == 0
    assert recover["cached_texts"] == 347                          # every sample text, verified
    assert recover["shards"] == ["shard-00001.f16", "shard-00001.json"]


def _first_store(stage: dict) -> str:
    return next(f for f in stage["files"] if f.startswith("examples/jsonl-"))
