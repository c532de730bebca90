"""Faults of a torchrun job: a rank SIGKILLed, the agent SIGTERMed; shared by
tests/faults/test_rank_faults.py (a short chain) and `bench/faults.py --ranks 2` (long).

Each launch is `torchrun --standalone --nproc_per_node N` of the real
`redheart run` (quickstart profile, gloo on CPU: the code path nccl takes on
GPUs), observed from outside: rank 0's events, the run directory, and the
pid and exit files of tests/faults/rank_process.py.
"""

from __future__ import annotations

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

from tests.faults.harness import (
    PROFILE,
    ROOT,
    launches,
    newest_loadable,
    started,
    wait_until,
)

RANK_PROCESS = ROOT / "tests" / "faults" / "rank_process.py"
END_LIMIT_S = 60.0
"""The whole job must be gone this long after a rank dies."""


@dataclass
class Job:
    """One torchrun launch: the agent and where its ranks leave their pid and exit files."""

    agent: subprocess.Popen
    marks: Path
    ranks: int

    def pid(self, rank: int) -> int:
        path = self.marks / f"pid.{rank}"
        wait_until(lambda: path.is_file() and path.read_text().strip(), timeout=120,
                   what=f"rank {rank} to start")
        return int(path.read_text())

    def exit_code(self, rank: int) -> int | None:
        path = self.marks / f"exit.{rank}"
        return int(path.read_text()) if path.is_file() else None


def launch_job(run_dir: Path, cache: Path | str, sets: Sequence[str], ranks: int = 2,
               resume: bool = False, threads: int = 1) -> Job:
    marks = run_dir.parent / f"{run_dir.name}-marks-{time.monotonic_ns()}"
    marks.mkdir()
    torchrun = Path(sys.executable).with_name("torchrun")
    args = [str(torchrun), "--standalone", "--nproc_per_node", str(ranks),
            str(RANK_PROCESS), str(marks), "run", str(PROFILE), "--quiet",
            "--run-dir", str(run_dir), "--set", f'data.cache_dir="{cache}"']
    for item in sets:
        args += ["--set", item]
    if resume:
        args += ["--resume", "last"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with (run_dir.parent / f"{run_dir.name}.log").open("a") as out:
        agent = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    return Job(agent, marks, ranks)


@dataclass
class RankTrial:
    """One rank SIGKILLed in a live job, and what `--resume last` made of it."""

    index: int
    victim: int
    moment: str
    """"random" (a random step and part of a step) or "checkpoint" (just after a
    checkpoint step, while the shards are gathered or the folder written)."""
    strategy: str
    reached_step: int = 0
    end_s: float = 0.0
    """Seconds from the kill until the whole job (agent and every rank) was gone."""
    survivor_exits: dict[int, int | None] = field(default_factory=dict)
    reported: str = ""
    """How the launch's events read afterwards: rank 0's error, or "killed"."""
    lock_free: bool = False
    partial: list[str] = field(default_factory=list)
    newest: str | None = None
    newest_step: int = 0
    loadable: bool = False
    followed_to: str | None = None
    """The last item `redheart events --follow` gave once the job was gone."""
    checkpoint_step_written: bool | None = None
    """For a "checkpoint" kill: whether that step's folder was completed anyway."""
    resumed_step: int | None = None
    resumed_from: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int | None:
        return None if self.resumed_step is None else self.reached_step - self.resumed_step

    def survived(self, every: int) -> bool:
        return (not self.problems and self.end_s <= END_LIMIT_S and self.lock_free
                and self.loadable and self.resumed_step == self.newest_step
                and self.lost is not None and 0 <= self.lost <= every)


def _kill_moment(run_dir: Path, moment: str, every: int, rng: random.Random,
                 job: Job) -> None:
    def current() -> list[dict[str, Any]]:
        if job.agent.poll() is not None:
            raise RuntimeError(f"the job ended (exit {job.agent.returncode}) before the kill")
        return launches(run_dir)[-1]

    begin = (started(current()) or {"step": 0})["step"]
    if moment == "random":
        target = begin + rng.randint(1, 2 * every)
    else:   # the next checkpoint step, at least two steps in
        target = (begin // every + 1) * every
        if target - begin < 2:
            target += every
    wait_until(lambda: any(e["type"] == "step" and e["step"] >= target for e in current()),
               timeout=600, poll=0.005, what=f"step {target}")
    time.sleep(rng.uniform(0.0, 0.2) if moment == "random" else rng.uniform(0.0, 0.02))


def _wait_started(run_dir: Path, count: int, job: Job) -> dict[str, Any]:
    def begun() -> dict[str, Any] | None:
        if job.agent.poll() is not None:
            raise RuntimeError(f"launch {count} exited {job.agent.returncode} before "
                               f"starting; see {run_dir.parent / (run_dir.name + '.log')}")
        parts = launches(run_dir)
        return started(parts[-1]) if len(parts) >= count else None

    return wait_until(begun, timeout=180, what=f"launch {count} to start")


def lock_is_free(run_dir: Path) -> bool:
    from redheart.runs.liveness import lock_holder

    return lock_holder(run_dir) is None


def rank_kill_chain(run_dir: Path, cache: Path | str, sets: Sequence[str],
                    plan: Sequence[tuple[int, str, str]], every: int, seed: int = 0,
                    on_trial: Callable[[RankTrial], None] | None = None,
                    ranks: int = 2) -> tuple[list[RankTrial], Job]:
    """SIGKILL one rank per launch as `plan` says ((victim, moment, strategy) each), then
    resume with `--resume last` under torchrun; returns the trials and the last, live job."""
    rng = random.Random(seed)
    job = launch_job(run_dir, cache, [*sets, f"distributed.strategy={plan[0][2]}"], ranks)
    count = 1
    done: list[RankTrial] = []
    try:
        _wait_started(run_dir, count, job)
        for index, (victim, moment, strategy) in enumerate(plan):
            trial = RankTrial(index + 1, victim, moment, strategy)
            _kill_moment(run_dir, moment, every, rng, job)
            os.kill(job.pid(victim), signal.SIGKILL)
            killed_at = time.monotonic()
            try:
                job.agent.wait(timeout=120)
            except subprocess.TimeoutExpired:
                trial.problems.append("the job was still running 120 s after the kill")
                job.agent.kill()
                job.agent.wait()
            trial.end_s = time.monotonic() - killed_at
            part = launches(run_dir)[-1]
            steps = [e["step"] for e in part if e["type"] == "step"]
            trial.reached_step = max(steps, default=started(part)["step"])
            trial.survivor_exits = {r: job.exit_code(r) for r in range(ranks) if r != victim}
            errors = [e["message"] for e in part if e["type"] == "error"]
            trial.reported = errors[-1] if errors else "killed"
            trial.lock_free = lock_is_free(run_dir)
            root = run_dir / "checkpoints"
            trial.partial = sorted(p.name for p in root.iterdir() if p.name.startswith(".tmp-"))
            trial.newest, trial.newest_step, trial.loadable = newest_loadable(run_dir)
            if moment == "checkpoint":
                trial.checkpoint_step_written = any(
                    e["type"] == "checkpoint" and e["step"] == trial.reached_step for e in part)
            trial.followed_to = _followed_to(run_dir)
            _expect_report(trial, victim)
            following = plan[index + 1][2] if index + 1 < len(plan) else strategy
            job = launch_job(run_dir, cache, [*sets, f"distributed.strategy={following}"],
                             ranks, resume=True)
            count += 1
            begin = _wait_started(run_dir, count, job)
            trial.resumed_step = begin["step"]
            trial.resumed_from = begin.get("resumed_from")
            expected = str(run_dir / "checkpoints" / trial.newest) if trial.newest else None
            if trial.resumed_from != expected:
                trial.problems.append(f"resumed from {trial.resumed_from}, expected {expected}")
            done.append(trial)
            if on_trial:
                on_trial(trial)
    except BaseException:
        stop_job(job)
        raise
    return done, job


def _followed_to(run_dir: Path) -> str | None:
    """What `redheart events --follow` ends with (it must end: the run is gone)."""
    from redheart.runs.events import follow_events

    last = None
    for event in follow_events(run_dir, follow=True, poll_s=0.05):
        last = event
    return last.get("type") if last else None


def _expect_report(trial: RankTrial, victim: int) -> None:
    """Rank 0 names the rank it lost; a lost rank 0 leaves the directory reading "killed"."""
    if victim != 0:
        if f"rank {victim} (pid " not in trial.reported or " was lost at step " \
                not in trial.reported:
            trial.problems.append(f"rank 0 reported {trial.reported!r}")
        if trial.survivor_exits.get(0) != 1:
            trial.problems.append(f"rank 0 exited {trial.survivor_exits.get(0)}, expected 1")
    elif trial.reported != "killed" or trial.followed_to != "killed":
        trial.problems.append(f"rank 0 was killed, yet the events say {trial.reported!r} "
                              f"and a follower ends with {trial.followed_to!r}")
    if victim == 0 and any(code != 1 for code in trial.survivor_exits.values()):
        trial.problems.append(f"the other ranks exited {trial.survivor_exits}, expected 1")
    if not trial.lock_free:
        trial.problems.append("the lock is still held after the job ended")


def stop_job(job: Job) -> None:
    if job.agent.poll() is None:
        job.agent.kill()
        job.agent.wait()
    for rank in range(job.ranks):
        pid_file = job.marks / f"pid.{rank}"
        if pid_file.is_file() and job.exit_code(rank) is None:
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


@dataclass
class Preemption:
    """SIGTERM to the torchrun agent, as a preempted cloud box sends."""

    stopped_steps: list[int]
    """The step of rank 0's stop (its "stopped" state event)."""
    checkpoint_step: int | None
    rank_exits: dict[int, int | None]
    agent_exit: int
    end_s: float
    reason: str | None


def preempt(run_dir: Path, job: Job, after_steps: int = 3) -> Preemption:
    """Let the job train `after_steps` steps, SIGTERM its agent, and read how it stopped."""
    begin = started(launches(run_dir)[-1])["step"]
    wait_until(lambda: any(e["type"] == "step" and e["step"] >= begin + after_steps
                           for e in launches(run_dir)[-1]), timeout=300,
               what=f"step {begin + after_steps}")
    job.agent.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    job.agent.wait(timeout=120)
    end_s = time.monotonic() - sent
    part = launches(run_dir)[-1]
    stopped = [e["step"] for e in part if e["type"] == "state" and e["state"] == "stopped"]
    checkpoints = [e["step"] for e in part if e["type"] == "checkpoint"]
    finished = [e for e in part if e["type"] == "run_finished"]
    return Preemption(stopped, checkpoints[-1] if checkpoints else None,
                      {r: job.exit_code(r) for r in range(job.ranks)},
                      job.agent.returncode, end_s,
                      finished[-1]["summary"]["reason"] if finished else None)


def trial_rows(trials: list[RankTrial]) -> str:
    """One row per trial, for the bench output and test failure messages."""
    rows = [f"{'#':>3} {'victim':>6} {'moment':<10} {'strategy':<8} {'killed at':>9} "
            f"{'ended in':>8} {'resumed at':>10} {'lost':>4}  report"]
    for t in trials:
        rows.append(f"{t.index:>3} {t.victim:>6} {t.moment:<10} {t.strategy:<8} "
                    f"{t.reached_step:>9} {t.end_s:>7.1f}s {t.resumed_step!s:>10} "
                    f"{t.lost!s:>4}  {t.reported[:70]}"
                    + (f"  PROBLEMS: {'; '.join(t.problems)}" if t.problems else ""))
    return "\n".join(rows)
