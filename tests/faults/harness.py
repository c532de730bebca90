"""Fault-injection harness shared by tests/faults and bench/faults.py.

Everything here drives the real `redheart run` in subprocesses on the
embedded sample set (profiles/quickstart.toml) and observes it only from
outside: its run directory, its events, /proc. The tests run short
versions; the bench runs the long ones and prints the table.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redheart.runs.events import read_events

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "profiles" / "quickstart.toml"


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""
"""A process holding the lock file argv[1] as a live run holds its run's lock."""


def run_command(run_dir: Path, cache_dir: Path | str, sets: Sequence[str] = (),
                resume: bool = False) -> list[str]:
    """`redheart run` of the quickstart profile into `run_dir`."""
    args = [sys.executable, "-m", "redheart", "run", str(PROFILE), "--quiet",
            "--run-dir", str(run_dir), "--set", f'data.cache_dir="{cache_dir}"']
    for item in sets:
        args += ["--set", item]
    return args + (["--resume", "last"] if resume else [])


def launch(run_dir: Path, cache_dir: Path | str, sets: Sequence[str] = (),
           resume: bool = False, threads: int | None = None) -> subprocess.Popen:
    """Start a run in the background; its output goes to a log beside run_dir.

    `threads` caps torch's threads, leaving cores to the observer on a small machine.
    """
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    with (run_dir.parent / f"{run_dir.name}.log").open("a") as out:
        return subprocess.Popen(run_command(run_dir, cache_dir, sets, resume), cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, env=env)


def events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "events.jsonl"
    return list(read_events(path)) if path.is_file() else []


def wait_until(condition: Callable[[], Any], timeout: float, poll: float = 0.05,
               what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; its value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


def launches(run_dir: Path) -> list[list[dict[str, Any]]]:
    """The events file split at each `plan` event: one list per launch of the run."""
    parts: list[list[dict[str, Any]]] = []
    for event in events(run_dir):
        if event["type"] == "plan" or not parts:
            parts.append([])
        parts[-1].append(event)
    return parts


def started(part: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((e for e in part if e["type"] == "run_started"), None)


def last_step(part: list[dict[str, Any]]) -> int | None:
    """The highest step a launch reported (its run_started step if it reported none)."""
    steps = [e["step"] for e in part if e["type"] == "step"]
    begin = started(part)
    return max(steps, default=begin["step"] if begin else None)


def warmed_up(run_dir: Path, evals: int, checkpoint_step: int = 1) -> bool:
    """`evals` evaluations and a checkpoint at or after `checkpoint_step` are written."""
    seen = events(run_dir)
    return (sum(e["type"] == "eval" for e in seen) >= evals
            and any(e["type"] == "checkpoint" and e["step"] >= checkpoint_step for e in seen))


def seq_gaps(evs: list[dict[str, Any]]) -> list[str]:
    """Ranges of seq numbers missing between consecutive events."""
    from redheart.runs.events import SeqGaps

    gaps = SeqGaps()
    return [missing for event in evs if (missing := gaps.see(event))]


def rss_bytes(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def steady_rss(pid: int | str = "self", samples: int = 5, interval: float = 0.2) -> int:
    """The lowest RSS over about a second.

    A checkpoint snapshot in flight holds a CPU copy of the model and optimizer
    (about 60 MB for the quickstart model) until it is written; that is not
    growth, and a leak raises the lowest sample as much as any.
    """
    lowest = rss_bytes(pid)
    for _ in range(samples - 1):
        time.sleep(interval)
        lowest = min(lowest, rss_bytes(pid))
    return lowest


def listening_sockets(pid: int) -> tuple[int, list[str]]:
    """(sockets the process holds, those that listen or are bound to receive).

    From /proc: the socket inodes among the process's descriptors, looked up
    in its network namespace's TCP (state 0A = LISTEN), UDP/raw (any bound
    socket receives) and Unix (the SO_ACCEPTCON flag) tables.
    """
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    listening = []
    net = Path(f"/proc/{pid}/net")
    for table in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
        path = net / table
        rows = path.read_text().splitlines()[1:] if path.exists() else []
        for row in rows:
            cols = row.split()
            if cols[9] in inodes and (not table.startswith("tcp") or cols[3] == "0A"):
                listening.append(f"{table} {cols[1]} inode {cols[9]}")
    unix = net / "unix"
    for row in unix.read_text().splitlines()[1:] if unix.exists() else []:
        cols = row.split()
        if cols[6] in inodes and int(cols[3], 16) & 0x10000:
            listening.append(f"unix {cols[7] if len(cols) > 7 else '(unnamed)'}")
    return len(inodes), listening


def file_digests(run_dir: Path) -> dict[str, bytes]:
    """Every file under the run directory (but the lock) with its bytes, to compare."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.name != "lock"}


# ------------------------------------------------------------------------ kill trials

@dataclass
class Trial:
    """One SIGKILL of a live run and what `--resume last` made of it."""

    index: int
    mode: str
    """"random" (a random moment) or "write" (while a checkpoint folder is being written)."""
    pid: int
    reached_step: int
    """The last step the killed launch reported."""
    partial: list[str]
    """Temporary checkpoint folders the kill left."""
    newest: str | None
    """The folder `--resume last` picks (None: no checkpoint yet, start from 0)."""
    newest_step: int
    loadable: bool
    resumed_step: int | None = None
    resumed_from: str | None = None
    stale_lock_reported: bool = False
    partial_cleared: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int | None:
        return None if self.resumed_step is None else self.reached_step - self.resumed_step

    def survived(self, every: int) -> bool:
        return (not self.problems and self.loadable and self.resumed_step == self.newest_step
                and self.stale_lock_reported and self.partial_cleared
                and self.lost is not None and 0 <= self.lost <= every)


def newest_loadable(run_dir: Path) -> tuple[str | None, int, bool]:
    """What `--resume last` would pick, its step, and whether it loads (model and optimizer)."""
    import torch

    from redheart.config_load import load_profile
    from redheart.model.catalog import ExecutionMode
    from redheart.model.unified import UnifiedModel
    from redheart.runs.checkpoints import load_checkpoint
    from redheart.runs.resume import resume_point
    from redheart.train.optimizers import build_optimizer

    folder = resume_point("last", run_dir)
    if folder is None:
        return None, 0, True
    config = load_profile(run_dir / "config.toml")
    model = UnifiedModel(config.model, ExecutionMode.TRAINING)
    optimizer = build_optimizer(model, {}, config, torch.device("cpu"))
    rng = torch.get_rng_state()
    try:
        state, _ = load_checkpoint(folder, model, optimizer)
    except Exception:  # noqa: BLE001 - any failure means "not loadable"
        return folder.name, -1, False
    finally:
        torch.set_rng_state(rng)
    return folder.name, state.step, True


def _kill_moment(run_dir: Path, mode: str, rng: random.Random, every: int,
                 proc: subprocess.Popen) -> None:
    """Wait for the moment to kill the current launch.

    "random": a step drawn uniformly from the next 2 x every_steps, plus a
    random part of a step (so kills land in forward, backward, optimizer,
    checkpoint snapshot or event writes alike, whatever the machine's speed).
    "write": once this launch has a checkpoint of its own, the moment its
    next checkpoint folder appears.
    """
    def current() -> list[dict[str, Any]]:
        if proc.poll() is not None:
            raise RuntimeError(f"the run ended (exit {proc.returncode}) before the kill")
        return launches(run_dir)[-1]

    if mode == "random":
        target = (started(current()) or {"step": 0})["step"] + rng.randint(1, 2 * every)
        wait_until(lambda: any(e["type"] == "step" and e["step"] >= target
                               for e in current()), timeout=600, what=f"step {target}")
        time.sleep(rng.uniform(0.0, 0.2))
        return
    root = run_dir / "checkpoints"
    wait_until(lambda: any(e["type"] == "checkpoint" for e in current()), timeout=600,
               what="the launch's first checkpoint")
    known = {p.name for p in root.iterdir()}

    def writing() -> bool:
        """Cheap enough to poll every 2 ms without slowing the run it watches."""
        if proc.poll() is not None:
            raise RuntimeError(f"the run ended (exit {proc.returncode}) before the kill")
        return any(p.name.startswith(".tmp-step-") and p.name not in known
                   for p in root.iterdir())

    wait_until(writing, timeout=600, poll=0.002, what="a checkpoint write")


def kill_chain(run_dir: Path, cache_dir: Path | str, sets: Sequence[str], trials: int,
               every: int, seed: int = 0, first: subprocess.Popen | None = None,
               on_trial: Callable[[Trial], None] | None = None,
               threads: int | None = None) -> list[Trial]:
    """SIGKILL a run `trials` times, at random moments and during checkpoint writes,
    resuming it with `--resume last` after each; the last resume is stopped cleanly.

    `first` is an already running launch to use as the first victim.
    """
    rng = random.Random(seed)
    proc = first or launch(run_dir, cache_dir, sets, threads=threads)
    done: list[Trial] = []
    try:
        _wait_resumed(run_dir, 1, proc)
        for index in range(trials):
            mode = "write" if index % 2 else "random"
            _kill_moment(run_dir, mode, rng, every, proc)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            part = launches(run_dir)[-1]
            root = run_dir / "checkpoints"
            partial = sorted(p.name for p in root.iterdir() if p.name.startswith(".tmp-"))
            newest, step, loadable = newest_loadable(run_dir)
            trial = Trial(index + 1, mode, proc.pid, last_step(part) or 0, partial, newest,
                          step, loadable)
            proc = launch(run_dir, cache_dir, sets, resume=True, threads=threads)
            begin = _wait_resumed(run_dir, index + 2, proc)
            trial.resumed_step = begin["step"]
            trial.resumed_from = begin.get("resumed_from")
            expected_from = str(run_dir / "checkpoints" / newest) if newest else None
            if trial.resumed_from != expected_from:
                trial.problems.append(f"resumed from {trial.resumed_from}, expected "
                                      f"{expected_from}")
            warnings = [e.get("message", "") for e in launches(run_dir)[-1]
                        if e["type"] == "warning"]
            trial.stale_lock_reported = any(f"stale lock of pid {trial.pid}" in w
                                            for w in warnings)
            trial.partial_cleared = not set(partial) & {p.name for p in root.iterdir()}
            done.append(trial)
            if on_trial:
                on_trial(trial)
        wait_until(lambda: (last_step(launches(run_dir)[-1]) or 0) >= done[-1].resumed_step + 2
                   or proc.poll() is not None, timeout=120, what="the last launch to train")
        from redheart.train.control import send

        send(run_dir, "stop")
        proc.wait(timeout=120)
        if proc.returncode != 0:
            done[-1].problems.append(f"the final launch exited {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return done


def _wait_resumed(run_dir: Path, count: int, proc: subprocess.Popen) -> dict[str, Any]:
    """The run_started event of launch number `count`, once it is written."""
    def begun() -> dict[str, Any] | None:
        if proc.poll() is not None:
            raise RuntimeError(f"launch {count} exited {proc.returncode} before starting")
        parts = launches(run_dir)
        return started(parts[-1]) if len(parts) >= count else None

    return wait_until(begun, timeout=120, what="the resumed launch to start")


def trial_table(trials: list[Trial]) -> str:
    """One row per trial, for the bench output and test failure messages."""
    rows = [f"{'#':>3} {'moment':<7} {'killed at':>9} {'partial':>7} {'resumed at':>10} "
            f"{'lost':>4}  stale lock cleared"]
    for t in trials:
        rows.append(f"{t.index:>3} {t.mode:<7} {t.reached_step:>9} {len(t.partial):>7} "
                    f"{t.resumed_step!s:>10} {t.lost!s:>4}  {t.stale_lock_reported}"
                    + (f"  {'; '.join(t.problems)}" if t.problems else ""))
    return "\n".join(rows)



# ---------------------------------------------------------------------- attach/detach

def attach_once(run_dir: Path, timeout: float = 60.0) -> dict[str, Any]:
    """Attach the console (headless) to a live run, catch up with its events, detach.

    Returns what the console saw: events applied, missing seq ranges, the last seq.
    """
    import asyncio

    from tui.app import RedHeartApp
    from tui.screens import QuitScreen

    target = len(events(run_dir))

    async def scenario() -> dict[str, Any]:
        app = RedHeartApp(attach=run_dir)
        async with app.run_test(size=(120, 40)) as pilot:
            waited = 0.0
            while app.view.events_seen < target:
                await pilot.pause(0.1)
                waited += 0.1
                if waited > timeout:
                    raise TimeoutError(f"the console saw {app.view.events_seen} of "
                                       f"{target} events")
            seen = {"events_seen": app.view.events_seen, "missing": list(app.view.missing),
                    "state": app.view.state,
                    "step": app.view.step}
            await pilot.press("q")          # a live run: the console asks; "leave" detaches
            for _ in range(200):
                if isinstance(app.screen, QuitScreen):
                    await pilot.click("#leave")
                    break
                await pilot.pause(0.05)
            await pilot.pause(0.1)
        seen["exit_choice"] = app.exit_choice
        return seen

    return asyncio.run(scenario())


# --------------------------------------------------------------------------- cut line

def cut_line_scenario(run: Path, cut: int) -> dict[str, Any]:
    """Cut `run`'s events.jsonl in the middle of line `cut` (as a crash mid-write does) and
    drop what follows; then follow it with `redheart events --follow`, attach the console,
    and append the dropped events the way a resumed run does (`EventWriter.resume`).

    Returns what each reader saw and what the file holds afterwards.
    """
    import asyncio

    from redheart.runs.events import EventWriter
    from redheart.runs.run_dir import RunLock
    from tui.app import RedHeartApp

    path = run / "events.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:cut]) + "\n" + lines[cut][: len(lines[cut]) // 2])
    # The resumed run holds the directory's lock while it writes, as `redheart run` does:
    # without it the readers rightly call the run killed once the file has been quiet a
    # while, and the console's attach can take that long on a loaded machine.
    lock = RunLock(run)
    lock.acquire()
    follower = subprocess.Popen([sys.executable, "-m", "redheart", "events", str(run),
                                 "--follow", "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    resumed = [json.loads(line) for line in lines[cut + 1:]]

    async def attached() -> RedHeartApp:
        app = RedHeartApp(attach=run)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(600):
                if app.view.events_seen >= cut:
                    break
                await pilot.pause(0.1)
            else:
                raise TimeoutError(f"the console read {app.view.events_seen} of the {cut} "
                                   f"events before the cut in 60 s")
            writer = EventWriter.resume(path)
            for event in resumed:
                writer.emit(event["type"], **{k: v for k, v in event.items()
                                              if k not in ("v", "seq", "t", "type")})
            writer.close()
            for _ in range(300):
                if app.view.state == "finished":
                    break
                await pilot.pause(0.1)
        return app

    try:
        try:
            app = asyncio.run(attached())
        finally:
            lock.release()
        out, err = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    return {"original": lines, "resumed_types": [e["type"] for e in resumed],
            "follow_exit": follower.returncode,
            "followed": [json.loads(line) for line in out.splitlines()],
            "follow_stderr": err.splitlines(), "view_missing": list(app.view.missing),
            "view_messages": list(app.view.messages), "view_seen": app.view.events_seen,
            "view_state": app.view.state, "on_disk": path.read_text().splitlines()}


# ------------------------------------------------------------------------- non-finite

def poison(trainer: Any, module: str, batches: set[int] | None = None) -> None:
    """Make the gradients of one module of a Trainer NaN (a real backward hook, not a
    mock), in every batch or only in `batches` (indexes in the epoch's batch plan)."""
    def hook(grad: Any) -> Any:
        hit = batches is None or trainer.state.batch_index in batches
        return grad * float("nan") if hit else grad

    for param in getattr(trainer.model, module).parameters():
        param.register_hook(hook)
