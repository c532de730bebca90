"""`redheart runs` and `redheart diff` on real runs: finished, live, killed and damaged."""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
from contextlib import contextmanager

import pytest

from redheart.runs.events import read_events
from redheart.runs.listing import list_runs
from tests.conftest import ROOT, run_here
from tests.faults.harness import HOLD, wait_until

QUICK = ["run", "profiles/quickstart.toml", "--samples", "40", "--quiet"]


def _events(run_dir) -> list[dict]:
    path = run_dir / "events.jsonl"
    return list(read_events(path)) if path.is_file() else []


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory, quickstart_data):
    """A folder with a finished run (in this process) and one SIGKILLed after its first step
    (each with a cache of its own, so the two can run at once, copied from the session's
    encoded sample set so that neither loads the encoder). The killed one evaluates nothing
    (eval_fraction 0): with 40 rows an epoch is a few steps, and on an idle machine it
    would reach its first evaluation before the kill."""
    root = tmp_path_factory.mktemp("runs")
    for cache in ("cache-k", "cache-f"):
        shutil.copytree(quickstart_data[0].data.cache_dir, root.parent / cache)
    killed = subprocess.Popen(
        [sys.executable, "-m", "redheart", *QUICK, "--set", "train.max_steps=100000",
         "--set", f'data.cache_dir="{root.parent / "cache-k"}"', "--set",
         "checkpoint.every_steps=100000", "--set", "data.eval_fraction=0.0",
         "--run-dir", str(root / "killed")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done = run_here(*QUICK, "--set", "train.max_steps=3", "--set",
                        f'data.cache_dir="{root.parent / "cache-f"}"',
                        "--run-dir", str(root / "finished"))
        assert done.returncode == 0, done.stderr
        wait_until(lambda: any(e["type"] == "step" for e in _events(root / "killed")), 120,
                   what="the first step of the run to kill")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    return root


@contextmanager
def lock_held(run_dir):
    """Another process holding the run's lock, as a live `redheart run` does."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir / "lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


def _by_name(root) -> dict:
    return {row.name: row for row in list_runs(root)}


def test_statuses_and_values_of_finished_live_killed_and_damaged_runs(runs_root):
    root = runs_root
    finished = _events(root / "finished")
    # Damaged: a copy of the finished run whose events are overwritten with zeros, and
    # one whose config.toml is cut in the middle of a table header.
    for name in ("garbled-events", "garbled-config"):
        (root / name).mkdir()
        for file in ("config.toml", "events.jsonl"):
            shutil.copy(root / "finished" / file, root / name / file)
    size = (root / "garbled-events" / "events.jsonl").stat().st_size
    (root / "garbled-events" / "events.jsonl").write_bytes(b"\0" * size)
    (root / "garbled-config" / "config.toml").write_text("[run\nname = ")
    (root / "not-a-run").mkdir()

    rows = _by_name(root)
    assert set(rows) == {"finished", "killed", "garbled-events", "garbled-config"}
    assert rows["garbled-events"].status == "damaged"
    assert "events.jsonl: no readable event" in rows["garbled-events"].problem
    assert rows["garbled-config"].status == "damaged"
    assert rows["garbled-config"].problem.startswith("config.toml: unreadable")

    done = rows["finished"]
    started = next(e for e in finished if e["type"] == "run_started")
    evals = [e for e in finished if e["type"] == "eval"]
    best = min(evals, key=lambda e: e["metrics"]["loss"])
    steps = [e for e in finished if e["type"] == "step"]
    assert (done.status, done.profile, done.step, done.total_steps) == (
        "finished", "quickstart", 3, 3)
    assert (done.best_loss, done.best_step) == (best["metrics"]["loss"], best["step"])
    assert done.samples_per_s == statistics.median(e["samples_per_s"] for e in steps)
    assert done.started_at == started["t"]
    assert done.duration_s == pytest.approx(finished[-1]["t"] - started["t"])
    assert done.last_loss == steps[-1]["loss"]["total"] and done.problem is None
    assert done.size_bytes > (root / "finished" / "events.jsonl").stat().st_size

    killed = rows["killed"]
    killed_steps = [e["step"] for e in _events(root / "killed") if e["type"] == "step"]
    assert killed.status == "killed" and killed.step == killed_steps[-1]
    assert killed.total_steps == 100000 and killed.best_loss is None
    with lock_held(root / "killed"):
        assert _by_name(root)["killed"].status == "live"
        printed = run_here("runs", str(root), "--json")
    assert printed.returncode == 0, printed.stderr
    listed = json.loads(printed.stdout)
    assert [r["name"] for r in listed] == [r.name for r in list_runs(root)]
    assert {r["name"]: r["status"] for r in listed} == {
        "finished": "finished", "killed": "live", "garbled-events": "damaged",
        "garbled-config": "damaged"}
    assert _by_name(root)["killed"].status == "killed"        # the holder is gone
    table = run_here("runs", str(root))
    assert table.returncode == 0 and "garbled-config: config.toml: unreadable" in table.stdout


def test_a_huge_events_file_is_read_at_its_ends_only(runs_root, tmp_path):
    """The finished run's events with 64 GiB of holes spliced in after run_started: it
    lists exactly as the original (reading it whole would take minutes and the memory)."""
    root = runs_root
    big = tmp_path / "big"
    big.mkdir()
    shutil.copy(root / "finished" / "config.toml", big / "config.toml")
    best = (root / "finished" / "checkpoints" / "best").read_text().strip()
    (big / "checkpoints" / best).mkdir(parents=True)
    for file in ("best", f"{best}/state.json"):
        shutil.copy(root / "finished" / "checkpoints" / file, big / "checkpoints" / file)
    lines = (root / "finished" / "events.jsonl").read_bytes().splitlines(keepends=True)
    begun = next(i for i, line in enumerate(lines) if b'"run_started"' in line) + 1
    with (big / "events.jsonl").open("wb") as f:
        f.writelines(lines[:begun])
        f.write(b"\n")
        f.truncate(f.tell() + 64 * 2**30)           # a hole: no disk, reads as zeros
        f.seek(0, os.SEEK_END)
        f.write(b"\n")
        f.writelines(lines[begun:])
    original = _by_name(root)["finished"].as_json()
    spliced = list_runs(big)[0].as_json()
    for key in ("path", "name", "size_bytes"):
        original.pop(key), spliced.pop(key)
    assert spliced == original


def test_diff_lists_exactly_the_keys_that_differ(runs_root):
    root = runs_root
    result = run_here("diff", str(root / "finished"), str(root / "killed"), "--json")
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    assert diff["config"] == [
        {"key": "checkpoint.every_steps", "a": 100, "b": 100000},
        {"key": "data.cache_dir", "a": str(root.parent / "cache-f"),
         "b": str(root.parent / "cache-k")},
        {"key": "data.eval_fraction", "a": 0.1, "b": 0.0},
        {"key": "train.max_steps", "a": 3, "b": 100000}]
    finished = _events(root / "finished")
    final = [e for e in finished if e["type"] == "eval"][-1]["metrics"]
    assert diff["metrics"]["final.eval.loss"]["a"] == final["loss"]
    assert diff["metrics"]["final.step"]["a"] == 3
    assert diff["metrics"]["status"]["a"] == "finished"
    assert diff["metrics"]["final.eval.loss"]["b"] is None      # never evaluated
    same = run_here("diff", str(root / "finished"), str(root / "finished"), "--json")
    assert json.loads(same.stdout)["config"] == []
    shown = run_here("diff", str(root / "finished"), str(root / "killed"))
    assert "train.max_steps" in shown.stdout and "final.eval.loss" in shown.stdout


def test_bad_roots_and_runs_are_one_line_exit_2(runs_root, tmp_path):
    root = runs_root
    (tmp_path / "file").write_text("x")
    for args in (["runs", str(tmp_path / "missing")], ["runs", str(tmp_path / "file")],
                 ["diff", str(root / "finished"), str(tmp_path)]):
        result = run_here(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
