"""`redheart run` as users run it: in subprocesses, with resume, signals and the lock."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from redheart.runs.events import read_events
from tests.conftest import ROOT, run_cli

QUICK = ["profiles/quickstart.toml", "--samples", "40", "--quiet"]


@pytest.fixture()
def cache_opt(quickstart_data) -> list[str]:
    """The sample set's token states, encoded once per session: these runs test the
    command, not the encoder (tests/test_prepare_cli.py does), and each fresh cache
    cost a run the encoder's load and the encoding."""
    return ["--set", f'data.cache_dir="{quickstart_data[0].data.cache_dir}"']


STRAIGHT = ["--set", "train.max_steps=12", "--set", "checkpoint.every_steps=6",
            "--set", "checkpoint.keep_last=5"]


@pytest.fixture(scope="module")
def straight(quickstart_data, tmp_path_factory):
    """(run directory, the finished process) of one 12-step run, printing its progress:
    the output test reads what it printed, the resume test its checkpoints (one run
    instead of one each)."""
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    done = run_cli("run", "profiles/quickstart.toml", "--samples", "40", "--set",
                   f'data.cache_dir="{quickstart_data[0].data.cache_dir}"', *STRAIGHT,
                   "--run-dir", str(run_dir))
    assert done.returncode == 0, done.stderr
    return run_dir, done


def test_resume_in_the_middle_is_bit_identical_to_a_straight_run(tmp_path, cache_opt,
                                                                  straight):
    run_dir, _ = straight
    middle = run_dir / "checkpoints" / "step-00000006"
    resumed = run_cli("run", *QUICK, *cache_opt, *STRAIGHT, "--run-dir",
                      str(tmp_path / "resumed"), "--resume", str(middle))
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(str(run_dir / "checkpoints" / "step-00000012" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "checkpoints" / "step-00000012" /
                      "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(bool((a[k] == b[k]).all()) for k in a)
    started = [e for e in read_events(tmp_path / "resumed" / "events.jsonl")
               if e["type"] == "run_started"]
    assert started[0]["step"] == 6 and started[0]["resumed_from"] == str(middle)


def test_output_and_exit_codes(tmp_path, cache_opt, straight):
    run_dir, result = straight
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    announced = [i for i, line in enumerate(lines)
                 if line.endswith(f"run directory {run_dir}")]
    first_step = next(i for i, line in enumerate(lines) if " step " in line)
    assert announced[0] < first_step and announced[-1] == len(lines) - 1  # at start and end
    assert any(" step 12/12 " in line for line in lines)                   # plain lines off a TTY
    # the log under nohup: every eval and checkpoint of events.jsonl, and where the best is
    events = list(read_events(run_dir / "events.jsonl"))
    evals = [e for e in events if e["type"] == "eval"]
    checkpoints = [e for e in events if e["type"] == "checkpoint"]
    assert evals and any(c["best"] for c in checkpoints)
    for e in evals:
        assert any(f"eval at step {e['step']} " in line and
                   f"eval loss {e['metrics']['loss']:.4f}" in line for line in lines), lines
    written = [line for line in lines if " checkpoint step " in line]
    assert [line.split("written: ")[1].split()[0] for line in written] == \
        [c["path"] for c in checkpoints]
    assert sum("new best" in line for line in written) == sum(c["best"] for c in checkpoints)
    best = next(c for c in reversed(checkpoints) if c["best"])
    best_loss = next(e for e in evals if e["step"] == best["step"])["metrics"]["loss"]
    assert lines[-2].endswith(f"done at step 12/12; best eval loss {best_loss:.4f} at step "
                              f"{best['step']} ({best['path']}); last checkpoint "
                              f"{checkpoints[-1]['path']}")
    again = run_cli("run", *QUICK, *cache_opt, "--run-dir", str(run_dir))
    assert again.returncode == 2
    assert "already holds a run; pass --resume last" in again.stderr
    bad = run_cli("run", *QUICK, "--set", "train.device=cuda", *cache_opt,
                  "--run-dir", str(tmp_path / "gpu-run"))
    assert bad.returncode == 2 and "no CUDA GPU is visible" in bad.stderr
    assert not (tmp_path / "gpu-run").exists()             # refused before writing anything


def test_sigterm_checkpoints_and_exits_0_and_the_lock_refuses_a_second_run(tmp_path, cache_opt):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "redheart", "run", *QUICK, *cache_opt,
         "--set", "train.max_steps=100000", "--set", "checkpoint.every_steps=100000",
         "--run-dir", str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            events = list(read_events(run_dir / "events.jsonl")) if run_dir.exists() else []
            if any(e["type"] == "step" for e in events):
                break
            time.sleep(0.05)
        second = run_cli("run", *QUICK, *cache_opt, "--run-dir", str(run_dir),
                         "--resume", "last")
        assert second.returncode == 2
        assert f"in use by a live run (pid {proc.pid})" in second.stderr
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    events = list(read_events(run_dir / "events.jsonl"))
    finished = events[-1]
    assert finished["type"] == "run_finished" and finished["summary"]["reason"] == "stopped"
    last = (run_dir / "checkpoints" / "last").read_text().strip()
    state = json.loads((run_dir / "checkpoints" / last / "state.json").read_text())
    assert state["step"] == finished["summary"]["steps"] >= 1
    assert not (run_dir / "lock").exists()


def test_a_second_sigint_stops_at_once(tmp_path, cache_opt):
    run_dir = tmp_path / "run"
    # One batch of the whole sample set and a deeper, wider model make every step
    # (pairs included) last over a second, so both signals land inside one;
    # signals sent back to back can merge.
    proc = subprocess.Popen(
        [sys.executable, "-m", "redheart", "run", "profiles/quickstart.toml", "--quiet",
         *cache_opt, "--set", "train.max_steps=100000",
         "--set", "train.batch_size=256", "--set", "model.n_layers=8",
         "--set", "model.ffn_dim=4096", "--run-dir", str(run_dir)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not any(
                e["type"] == "step" for e in (read_events(run_dir / "events.jsonl")
                                              if run_dir.exists() else [])):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr             # interrupted, not a clean stop (0)
    assert stderr == ("error: interrupted (SIGINT): stopped at once, without a checkpoint of "
                      "the steps since the last one; continue with --resume last\n")
    assert not (run_dir / "lock").exists()            # released on the way out
    finished = [e for e in read_events(run_dir / "events.jsonl") if e["type"] == "run_finished"]
    assert finished == []


def test_resume_last_on_a_new_run_dir_starts_at_step_0(tmp_path, cache_opt):
    """A restart loop passes `--resume last` from its first launch on."""
    run_dir = tmp_path / "loop"
    first = run_cli("run", *QUICK, *cache_opt, "--set", "train.max_steps=2",
                    "--run-dir", str(run_dir), "--resume", "last")
    assert first.returncode == 0, first.stderr
    events = list(read_events(run_dir / "events.jsonl"))
    started = next(e for e in events if e["type"] == "run_started")
    assert started["step"] == 0 and started["resumed_from"] is None
    assert [e["message"] for e in events if e["type"] == "warning"] == [
        f"--resume last: {run_dir} holds no checkpoint yet; starting at step 0"]
    assert (run_dir / "checkpoints" / "last").read_text().strip() == "step-00000002"


def test_resume_last_on_a_new_run_dir_checks_init_from_before_the_data(tmp_path, cache_opt):
    """A restart loop's first launch starts at step 0, so a wrong init_from is refused
    at once, as a fresh start's is, before a run directory exists."""
    run_dir = tmp_path / "loop"
    refused = run_cli("run", *QUICK, *cache_opt, "--set", f"train.init_from={tmp_path}/nope",
                      "--run-dir", str(run_dir), "--resume", "last")
    assert refused.returncode == 2
    assert f"init_from = '{tmp_path}/nope': {tmp_path}/nope: no such checkpoint" in \
        refused.stderr
    assert not run_dir.exists()
