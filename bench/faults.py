"""Fault injection at full length, with one summary table at the end.

- SIGKILL of a live quickstart run at random moments and in the middle of
  checkpoint writes (`--trials`, default 20), each followed by
  `--resume last`: the checkpoint picked loads, a partial one is never
  picked, the stale lock is reported and cleared, steps lost <= every_steps.
- A full disk (a size-limited tmpfs in a private namespace): while writing a
  checkpoint, while writing events, and the resume after freeing space.
- events.jsonl cut mid-line: `redheart events --follow` and the attached
  console carry on and report the seq gap.
- A non-finite gradient injected into one module: stop naming it; skip and
  count.
- Attach and detach the console `--attach` times (default 20) during a
  `--steps` (default 2,000) quickstart run: RSS of the trainer and of the
  console, seq gaps; no listening socket, a 0700 directory, a refused second
  run while it is live.
- Every bad input of tests/bad_inputs/cases.py with the line it prints.
- `--ranks N`: only the torchrun faults, N gloo processes on CPU: a rank
  SIGKILLed `--rank-trials` times (default 12: rank 1 and rank 0, at a random
  moment under DDP and just after a checkpoint step under FSDP2), each
  followed by `torchrun ... --resume last`, then SIGTERM to the agent.

    .venv/bin/python bench/faults.py [--trials 20] [--attach 20] [--steps 2000] [--threads 1]
    .venv/bin/python bench/faults.py --ranks 2 [--rank-trials 12]

Every run it starts uses `--threads` torch threads (default 1): on a small or
shared machine, more OpenMP threads than free cores spin against each other
and a 0.1 s step takes seconds.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.units import MIB  # noqa: E402
from tests.bad_inputs.cases import (  # noqa: E402
    CASES,
    PAYLOAD_MARKER,
    Workspace,
    execute,
    make_runs,
)
from tests.faults.harness import (  # noqa: E402
    attach_once,
    cut_line_scenario,
    events,
    kill_chain,
    launch,
    listening_sockets,
    poison,
    run_command,
    seq_gaps,
    steady_rss,
    trial_table,
    wait_until,
    warmed_up,
)

EVERY = 10
ROWS: list[tuple[str, str, str, str]] = []
"""(check, tried, survived, detail) for the summary table."""


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def prepare_cache(cache: Path) -> None:
    """Token states of the sample set, encoded once for every run below."""
    from redheart.config_load import load_profile
    from redheart.data.prepare import prepare

    config = load_profile(ROOT / "profiles" / "quickstart.toml", [f'data.cache_dir="{cache}"'])
    prepare(config, ROOT / "profiles")


def kill_trials(work: Path, cache: Path, trials: int, seed: int, threads: int) -> None:
    section(f"SIGKILL x{trials} (checkpoint.every_steps = {EVERY})")
    run_dir = work / "kill" / "run"
    run_dir.parent.mkdir()
    sets = ("train.max_steps=100000", f"checkpoint.every_steps={EVERY}",
            "checkpoint.keep_last=3")
    done = kill_chain(run_dir, cache, sets, trials, every=EVERY, seed=seed, threads=threads,
                      on_trial=lambda t: print(f"  trial {t.index}: {t.mode}, killed at step "
                                               f"{t.reached_step}, resumed at "
                                               f"{t.resumed_step}", flush=True))
    print(trial_table(done))
    survived = sum(t.survived(EVERY) for t in done)
    lost = max(t.lost or 0 for t in done)
    partial = sum(bool(t.partial) for t in done)
    gaps = seq_gaps(events(run_dir))
    ROWS.append(("SIGKILL (random moment / mid checkpoint write)", str(len(done)),
                 str(survived), f"steps lost at most {lost} (every_steps {EVERY}); "
                 f"{partial} kills left a partial checkpoint, never picked, cleared on resume"))
    ROWS.append(("stale lock after SIGKILL", str(len(done)),
                 str(sum(t.stale_lock_reported for t in done)),
                 "reported as a warning event and taken over by --resume last"))
    ROWS.append(("events across the kills", "1", str(int(not gaps)),
                 f"seq gaps {gaps or 'none'}; final launch exit 0: "
                 f"{not done[-1].problems}"))


RANK_PLAN = [(1, "random", "ddp"), (1, "checkpoint", "fsdp2"), (0, "random", "ddp"),
             (0, "checkpoint", "fsdp2")]


def rank_faults(work: Path, cache: Path, trials: int, ranks: int, seed: int) -> None:
    from tests.faults.rank_faults import (
        END_LIMIT_S,
        preempt,
        rank_kill_chain,
        stop_job,
        trial_rows,
    )

    section(f"torchrun, {ranks} ranks: SIGKILL x{trials} (checkpoint.every_steps = {EVERY}), "
            f"then SIGTERM to the agent")
    run_dir = work / "ranks" / "run"
    run_dir.parent.mkdir()
    sets = ("train.max_steps=100000", f"checkpoint.every_steps={EVERY}",
            "checkpoint.keep_last=3")
    plan = [RANK_PLAN[i % len(RANK_PLAN)] for i in range(trials)]
    done, job = rank_kill_chain(run_dir, cache, sets, plan, every=EVERY, seed=seed,
                                ranks=ranks, on_trial=lambda t: print(
                                    f"  trial {t.index}: rank {t.victim} {t.moment} "
                                    f"({t.strategy}) at step {t.reached_step}, job gone in "
                                    f"{t.end_s:.1f} s, resumed at {t.resumed_step}",
                                    flush=True))
    try:
        stop = preempt(run_dir, job)
    finally:
        stop_job(job)
    print(trial_rows(done))
    survived = sum(t.survived(EVERY) for t in done)
    gathers = [t for t in done if t.moment == "checkpoint"]
    ROWS.append((f"rank SIGKILL ({ranks} ranks)", str(len(done)), str(survived),
                 f"job gone after the kill in at most {max(t.end_s for t in done):.1f} s "
                 f"(limit {END_LIMIT_S:.0f}); steps lost at most "
                 f"{max(t.lost or 0 for t in done)} (every_steps {EVERY})"))
    ROWS.append(("  of which just after a checkpoint step", str(len(gathers)),
                 str(sum(t.survived(EVERY) for t in gathers)),
                 f"{sum(t.checkpoint_step_written is False for t in gathers)} cut that "
                 f"step's checkpoint before it was whole; never picked"))
    ROWS.append(("  of which rank 0", str(sum(t.victim == 0 for t in done)),
                 str(sum(t.survived(EVERY) for t in done if t.victim == 0)),
                 "the run reads as killed; the other ranks exit 1 with one line"))
    ok = (stop.reason == "stopped" and len(stop.stopped_steps) == 1
          and stop.checkpoint_step == stop.stopped_steps[0]
          and set(stop.rank_exits.values()) == {0})
    ROWS.append(("SIGTERM to the torchrun agent", "1", str(int(ok)),
                 f"stopped at step {stop.stopped_steps}, checkpoint {stop.checkpoint_step}, "
                 f"rank exits {stop.rank_exits}, agent exit {stop.agent_exit} (torchrun's own "
                 f"SignalException), {stop.end_s:.1f} s"))


def disk_full(work: Path, cache: Path, threads: int) -> None:
    section("full disk (tmpfs in a private namespace)")
    mount = work / "mnt"
    mount.mkdir()
    done = subprocess.run(["unshare", "-rm", sys.executable, "tests/faults/tiny_disk.py",
                           "--mount", str(mount), "--cache", str(cache), "--recover"],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    if done.returncode != 0:
        print(f"  not run: {done.stdout.strip() or done.stderr.strip()[-300:]}")
        ROWS.append(("disk full", "0", "0", "unshare -rm / tmpfs not available"))
        return
    for stage in json.loads(done.stdout.splitlines()[-1]):
        print(f"  {stage['stage']}: exit {stage['exit']}, resumed at {stage['resumed_step']}, "
              f"newest {stage['newest']} loadable {stage['loadable']}, partial "
              f"{stage['partial']}, events end with a newline "
              f"{stage['events_end_with_newline']}, stderr {stage['stderr']}")
        expected_exit = 0 if stage["stage"] == "recover" else 1
        ok = (stage["exit"] == expected_exit and stage["loadable"] and not stage["partial"]
              and stage["events_end_with_newline"] and not stage["seq_gaps"]
              and len(stage["stderr"]) == (0 if expected_exit == 0 else 1))
        what = {"checkpoint": "disk full while writing a checkpoint",
                "events": "disk full while writing events",
                "recover": "resume after freeing space"}[stage["stage"]]
        detail = stage["stderr"][0] if stage["stderr"] else (
            f"resumed at step {stage['resumed_step']}, stopped with {stage['newest']}")
        ROWS.append((what, "1", str(int(ok)), detail))


def cut_line(work: Path) -> None:
    section("events.jsonl cut mid-line")
    run = work / "cut" / "run"
    shutil.copytree(ROOT / "tests" / "data" / "recorded_events", run)
    seen = cut_line_scenario(run, 120)
    ok = (seen["follow_exit"] == 0 and seen["view_missing"] == ["120-120"]
          and seen["view_state"] == "finished")
    print(f"  follow: exit {seen['follow_exit']}, {len(seen['followed'])} events, stderr "
          f"{seen['follow_stderr']}; console: missing {seen['view_missing']}, state "
          f"{seen['view_state']}")
    ROWS.append(("events.jsonl cut mid-line (--follow, --attach)", "1", str(int(ok)),
                 seen["follow_stderr"][0] if seen["follow_stderr"] else "no gap reported"))


def nonfinite(work: Path, cache: Path) -> None:
    section("non-finite gradient in one module")
    from redheart.config_load import load_profile
    from redheart.data.encode import EncoderCache
    from redheart.data.prepare import prepare
    from redheart.train.trainer import TrainingError
    from tests.conftest import make_trainer

    config = load_profile(ROOT / "profiles" / "quickstart.toml", [
        f'data.cache_dir="{cache}"', "train.max_steps=6", "checkpoint.every_steps=3"])
    data = (config, prepare(config, ROOT / "profiles").sources,
            EncoderCache(cache, config.data.encoder, config.data.max_tokens))
    trainer = make_trainer(data, work / "nan-stop")
    poison(trainer, "regret_analyzer")
    try:
        trainer.fit()
        stop = "no error"
    except TrainingError as exc:
        stop = str(exc)
    trainer.close()
    trainer = make_trainer(data, work / "nan-skip", on_nonfinite="skip", max_skips=2)
    poison(trainer, "backbone", batches={1, 3})
    trainer.fit()
    trainer.close()
    print(f"  stop: {stop}\n  skip: {trainer.state.skipped_total} steps skipped, "
          f"{trainer.state.step} steps done")
    ROWS.append(("non-finite gradient, default (stop)", "1",
                 str(int("in module 'regret_analyzer'" in stop)), stop))
    ROWS.append(("non-finite gradient, skip", "1", str(int(trainer.state.skipped_total == 2)),
                 f"{trainer.state.skipped_total} skipped steps counted (2 injected), "
                 f"{trainer.state.step} steps done"))


def attach_detach(work: Path, cache: Path, steps: int, attaches: int, threads: int) -> None:
    section(f"attach/detach x{attaches} during a {steps}-step quickstart run")
    run_dir = work / "attach" / "run"
    run_dir.parent.mkdir()
    proc = launch(run_dir, cache, (f"train.max_steps={steps}",), threads=threads)
    try:
        # Warmed up: two epochs evaluated and the first periodic checkpoint (step 100) written.
        wait_until(lambda: warmed_up(run_dir, evals=2, checkpoint_step=100)
                   or proc.poll() is not None, timeout=1200, what="warm-up")
        held, listening = listening_sockets(proc.pid)
        private = run_dir.stat().st_mode & 0o777 == 0o700
        ROWS.append(("no listening socket, run dir 0700 (live run)", "1",
                     str(int(not listening and private)),
                     f"{held} sockets held, listening: {listening or 'none'}; mode "
                     f"{oct(run_dir.stat().st_mode & 0o777)}"))
        config_before = (run_dir / "config.toml").read_bytes()
        refused = subprocess.run(run_command(run_dir, cache, ("train.lr=0.0005",), True),
                                 capture_output=True, text=True)
        unchanged = (run_dir / "config.toml").read_bytes() == config_before
        ROWS.append(("second run on the live directory", "1",
                     str(int(refused.returncode == 2 and unchanged)),
                     f"exit {refused.returncode}: {refused.stderr.strip()}; config.toml "
                     f"unchanged: {unchanged}"))
        seen, ui, trainer = [], [], []
        for cycle in range(attaches):
            began = time.monotonic()
            seen.append(attach_once(run_dir))
            gc.collect()
            ui.append(steady_rss())
            if proc.poll() is not None:
                print(f"  attach {cycle + 1}: the run had already ended")
                break
            trainer.append(steady_rss(proc.pid))
            print(f"  attach {cycle + 1} at step {seen[-1]['step']}: {seen[-1]['events_seen']} "
                  f"events, missing {seen[-1]['missing']}, console RSS {ui[-1] / MIB:.0f} MiB, "
                  f"trainer RSS {trainer[-1] / MIB:.0f} MiB", flush=True)
            time.sleep(_until_next_attach(run_dir, steps, attaches - cycle - 1,
                                          time.monotonic() - began))
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    gaps = seq_gaps(events(run_dir))
    ui_growth, trainer_growth = ui[-1] / ui[0] - 1, trainer[-1] / trainer[0] - 1
    ok = (len(trainer) == attaches and ui_growth < 0.05 and trainer_growth < 0.05
          and not gaps and proc.returncode == 0
          and all(not s["missing"] and s["exit_choice"] == "leave" for s in seen)
          and not (run_dir / "control").exists())
    ROWS.append((f"attach/detach during a {steps}-step run", str(len(seen)), str(int(ok) *
                 len(seen)), f"RSS (lowest over 1 s) first->last attach: trainer "
                 f"{trainer_growth:+.1%}, "
                 f"console {ui_growth:+.1%}; seq gaps {gaps or 'none'}; run exit "
                 f"{proc.returncode}"))


def _until_next_attach(run_dir: Path, steps: int, left: int, cycle_s: float) -> float:
    """Seconds to wait so that the attaches left (each taking about `cycle_s`) spread over
    the rest of the run and the last one ends before 95% of its steps."""
    done = [e for e in events(run_dir) if e["type"] == "step"]
    if left == 0 or len(done) < 2:
        return 0.0
    rate = (done[-1]["step"] - done[0]["step"]) / max(done[-1]["t"] - done[0]["t"], 1e-3)
    remaining = (0.95 * steps - done[-1]["step"]) / max(rate, 1e-3) - left * cycle_s
    return max(0.0, remaining / left)


def bad_inputs(work: Path, cache: Path) -> list[tuple[str, object, str, bool]]:
    section(f"bad inputs ({len(CASES)} cases)")
    runs = make_runs(work / "ckpt-runs", str(cache))
    taxonomy = ROOT.parent / "shared" / "data" / "goemotions"
    results = []
    for index, case in enumerate(CASES):
        folder = work / "bad" / f"{index:02d}-{case.id}"
        folder.mkdir(parents=True)
        if case.needs == "goemotions" and not taxonomy.is_dir():
            results.append((f"{case.group}/{case.id}", None, f"skipped: no {taxonomy}", False))
            continue
        ws = Workspace(folder, str(cache), runs, taxonomy)
        outcome = execute(case.build(ws))
        line = outcome.stderr[0] if outcome.stderr else ""
        ok = (outcome.code == 2 and len(outcome.stderr) == 1
              and bool(case.pattern(ws).fullmatch(line))
              and not (folder / PAYLOAD_MARKER).exists())
        results.append((f"{case.group}/{case.id}", outcome.code,
                        line.replace(str(folder), "{case}"), ok))
    good = sum(r[3] for r in results)
    ROWS.append(("bad inputs (profiles, data, checkpoints, CLI)", str(len(results)), str(good),
                 "one line naming the file/line/key and the fix, exit 2, no traceback; "
                 "the pickle payload never ran"))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--attach", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ranks", type=int, default=0,
                        help="Only the torchrun faults, with this many gloo processes.")
    parser.add_argument("--rank-trials", type=int, default=12)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)     # the in-process parts (non-finite, bad inputs)
    work = Path(tempfile.mkdtemp(prefix="redheart-faults-"))
    cache = work / "cache"
    start = time.monotonic()
    try:
        prepare_cache(cache)
        results = []
        if args.ranks:
            rank_faults(work, cache, args.rank_trials, args.ranks, args.seed)
        else:
            kill_trials(work, cache, args.trials, args.seed, args.threads)
            disk_full(work, cache, args.threads)
            cut_line(work)
            nonfinite(work, cache)
            attach_detach(work, cache, args.steps, args.attach, args.threads)
            results = bad_inputs(work, cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    section(f"summary ({time.monotonic() - start:.0f} s)")
    width = max(len(r[0]) for r in ROWS)
    print(f"{'check':<{width}}  {'tried':>5}  {'survived':>8}  detail")
    for check, tried, survived, detail in ROWS:
        print(f"{check:<{width}}  {tried:>5}  {survived:>8}  {detail}")
    if results:
        print(f"\nbad inputs tried ({sum(r[3] for r in results)}/{len(results)} clear, "
              f"exit 2):")
    for name, code, line, ok in results:
        print(f"  {'ok ' if ok else 'BAD'} {name:<38} exit {code}  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
