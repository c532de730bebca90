"""Does the console slow training down? And how fresh is what it shows?

    .venv/bin/python bench/tui_overhead.py [--steps 250] [--rounds 5]

1. Throughput: the quickstart profile trained by `redheart run`'s code path
   (run_training, no UI) and by the console in process, alternating. The
   console runs in a real terminal under tmux (`redheart-tui PROFILE`, then
   the `s` key), as a user has it; Textual's headless test driver is printed
   too, as a worst case (it redraws for its own bookkeeping). Samples/s come
   from each run's own step events (first to last step), so start-up and data
   preparation are not counted. Goal: ratio >= 0.95. This VM's speed drifts
   by +-10% between short runs; 5 rounds of 250 steps give a stable median.
2. Latency: a writer appends step events at 100 per second to an events file
   while the console is attached; for every step the console draws, the delay
   from the event's timestamp to the redraw. Goal: under 1 s at >= 50 steps/s,
   with redraws at most 10 per second (the console redraws 4 times a second).
3. Redraw of a long run: the console attached to a 100,000-step run (every
   step event carries the total and 4 task losses, 12 modules' gradient norms
   and throughput; an eval every 1,000 steps), at 120x40 with every chart on
   screen; then a new step at a time, the time from the step to the screen
   composed (the panels fed, then Textual's compositor run at once rather
   than at its next frame): wall time, and the UI thread's CPU time in it
   (what training loses to it). Goal: under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config_load import load_profile  # noqa: E402
from redheart.runs.events import EventWriter, read_events  # noqa: E402
from redheart.tasks import TASKS  # noqa: E402
from redheart.train.run import run_training  # noqa: E402
from tui.app import RedHeartApp, SilentReporter  # noqa: E402

PROFILE = ROOT / "profiles" / "quickstart.toml"


def samples_per_s(run_dir: Path, batch_size: int) -> float:
    steps = [e for e in read_events(run_dir / "events.jsonl") if e["type"] == "step"]
    first, last = steps[0], steps[-1]
    return (last["step"] - first["step"]) * batch_size / (last["t"] - first["t"])


def headless(overrides: list[str], run_dir: Path) -> None:
    config = load_profile(PROFILE, overrides)
    run_training(config, PROFILE.parent, SilentReporter(None), run_dir)  # type: ignore[arg-type]


def in_console(overrides: list[str]) -> Path:
    async def scenario() -> Path:
        app = RedHeartApp(PROFILE, overrides)
        async with app.run_test(size=(120, 40)) as pilot:
            # as a user would: start once the forecast (and its prefetch) is done
            while "peak" not in str(app.query_one("#memory-forecast").render()) or any(
                    w.is_running for w in app.workers):
                await pilot.pause(0.1)
            await pilot.press("s")
            # plain sleeps: Pilot.pause() waits for the screen to settle, which would make
            # the benchmark itself redraw the console many times a second
            while app.training_done.is_set() or app.source is None:
                await asyncio.sleep(0.05)
            while not app.training_done.is_set():
                await asyncio.sleep(1.0)
            await pilot.pause(0.3)
            return Path(app.source.label)

    return asyncio.run(scenario())


def in_tmux(overrides: list[str], runs_root: Path, timeout: float = 600.0) -> Path:
    """The console in a real terminal: tmux, 120x40, started with `s` once it has planned."""
    session = f"redheart-bench-{os.getpid()}"
    command = shlex.join([sys.executable, "-m", "tui", str(PROFILE),
                          *[arg for o in overrides for arg in ("--set", o)]])
    before = set(runs_root.glob("*")) if runs_root.is_dir() else set()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                    f"cd {shlex.quote(str(ROOT))} && {command}"], check=True)
    try:
        deadline = time.monotonic() + timeout
        while "peak" not in subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                           capture_output=True, text=True).stdout:
            if time.monotonic() > deadline:
                raise RuntimeError("the console did not show its forecast")
            time.sleep(0.5)
        time.sleep(3.0)                                  # the toggle prefetch finishes
        subprocess.run(["tmux", "send-keys", "-t", session, "s"], check=True)
        while True:
            new = set(runs_root.glob("*")) - before if runs_root.is_dir() else set()
            if new and any(e["type"] == "run_finished"
                           for e in read_events(next(iter(new)) / "events.jsonl")):
                return next(iter(new))
            if time.monotonic() > deadline:
                raise RuntimeError("the console's run did not finish")
            time.sleep(1.0)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def latency(rate_hz: float = 100.0, seconds: float = 5.0) -> tuple[list[float], int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        writer = EventWriter(run / "events.jsonl")
        writer.emit("state", state="running", step=0)
        delays: list[float] = []
        redraws = [0]

        def produce() -> None:
            for step in range(1, int(rate_hz * seconds) + 1):
                writer.emit("step", step=step, epoch=0, loss={"total": 1.0 / step}, lr=1e-4,
                            grad_norm=1.0, samples_per_s=800.0)
                time.sleep(1 / rate_hz)

        async def scenario() -> None:
            app = RedHeartApp(attach=run)
            async with app.run_test(size=(120, 40)) as pilot:
                original = app.refresh_panels

                def timed() -> None:
                    original()
                    redraws[0] += 1
                    last = app.view.last_step_t
                    if last is not None:
                        delays.append(time.time() - last)

                app.refresh_panels = timed  # type: ignore[method-assign]
                thread = threading.Thread(target=produce)
                thread.start()
                while thread.is_alive():
                    await pilot.pause(0.1)
                await pilot.pause(0.5)

        asyncio.run(scenario())
        return delays, redraws[0], seconds


MODULES = ("backbone", "emotion_head", "bentham_head", "regret_head", "surd_head",
           "emotion_analyzer", "bentham_calculator", "regret_analyzer", "surd_analyzer",
           "dsp_simulator", "kalman_filter", "utilities")


def long_run_events(steps: int) -> Iterator[dict]:
    """A run of `steps` steps as its events file has them (values that move, so no
    chart can skip a redraw)."""
    rng = random.Random(0)
    yield {"v": 1, "seq": 0, "t": 0.0, "type": "run_started", "total_steps": steps, "step": 0}
    for step in range(1, steps + 1):
        loss = {task: 1 / math.sqrt(step) + 0.05 * rng.random()
                for task in TASKS}
        loss["total"] = sum(loss.values())
        yield {"v": 1, "seq": step, "t": step * 0.2, "type": "step", "step": step, "epoch": 0,
               "loss": loss, "lr": 1e-4, "grad_norm": 1.0,
               "grad_norm_by_module": {m: 1.0 + rng.random() for m in MODULES},
               "samples_per_s": 100.0 + rng.random(), "tokens_per_s": 5000.0 + rng.random()}
        if step % 1000 == 0:
            yield {"v": 1, "seq": step, "t": step * 0.2, "type": "eval", "step": step,
                   "metrics": {**loss, "loss": loss["total"]}}


def redraw(steps: int = 100_000, rounds: int = 30) -> tuple[float, list[float], list[float]]:
    """(seconds to replay the run on attach, UI-thread CPU per redraw, wall per redraw)."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        with (run / "events.jsonl").open("w") as f:
            for event in long_run_events(steps):
                f.write(json.dumps(event, separators=(",", ":")) + "\n")
        cpu: list[float] = []
        wall: list[float] = []
        replay = [0.0]

        async def scenario() -> None:
            app = RedHeartApp(attach=run)
            async with app.run_test(size=(120, 40)) as pilot:
                started = time.perf_counter()
                while app.view.step < steps:
                    await asyncio.sleep(0.05)
                replay[0] = time.perf_counter() - started
                app.source = None               # from here on, only the steps sent below
                await pilot.pause(0.5)
                for step in range(steps + 1, steps + 1 + rounds):
                    app.view.apply([{"type": "step", "step": step, "t": step * 0.2,
                                     "loss": {"total": 0.5, "emotion": 0.2, "bentham": 0.1,
                                              "regret": 0.1, "surd": 0.1},
                                     "grad_norm_by_module": {m: 1.0 for m in MODULES},
                                     "samples_per_s": 100.0, "tokens_per_s": 5000.0,
                                     "lr": 1e-4, "grad_norm": 1.0}])
                    wall_start, cpu_start = time.perf_counter(), time.thread_time()
                    app.refresh_panels(charts=True)     # every chart, not once a second
                    await pilot._wait_for_screen()      # the widgets' messages handled
                    app.screen._on_timer_update()       # and the screen composed now
                    cpu.append(time.thread_time() - cpu_start)
                    wall.append(time.perf_counter() - wall_start)

        asyncio.run(scenario())
        return replay[0], cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redraw-only", action="store_true",
                        help="only part 3 (the 100,000-step redraw)")
    args = parser.parse_args()
    if args.redraw_only:
        report_redraw()
        return
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f'data.cache_dir="{tmp}/cache"', f'run.runs_root="{tmp}/runs"',
                     f"train.max_steps={args.steps}", "data.eval_fraction=0"]
        batch = load_profile(PROFILE, overrides).train.batch_size
        headless(overrides, Path(tmp) / "warm-up")          # encodes the sample set once
        bare, console, driver = [], [], []
        tmux = shutil.which("tmux") is not None
        for index in range(args.rounds):
            run_dir = Path(tmp) / f"headless-{index}"
            headless(overrides, run_dir)
            bare.append(samples_per_s(run_dir, batch))
            if tmux:
                console.append(samples_per_s(in_tmux(overrides, Path(tmp) / "runs"), batch))
            driver.append(samples_per_s(in_console(overrides), batch))
    print(f"quickstart, {args.steps} steps x {args.rounds} rounds, batch {batch}")
    print(f"redheart run path         {statistics.median(bare):7.1f} samples/s (rounds "
          f"{', '.join(f'{x:.1f}' for x in bare)})")
    if console:
        print(f"console, tmux terminal    {statistics.median(console):7.1f} samples/s (rounds "
              f"{', '.join(f'{x:.1f}' for x in console)})")
        print(f"ratio                     "
              f"{statistics.median(console) / statistics.median(bare):.3f} (goal >= 0.95)")
    else:
        print("console, tmux terminal    not measured: tmux is not installed")
    print(f"console, headless driver  {statistics.median(driver):7.1f} samples/s (rounds "
          f"{', '.join(f'{x:.1f}' for x in driver)}); ratio "
          f"{statistics.median(driver) / statistics.median(bare):.3f} (test driver, worst case)")
    delays, redraws, seconds = latency()
    delays.sort()
    print(f"latency at 100 steps/s: {len(delays)} redraws in {seconds:.0f} s "
          f"({redraws / seconds:.1f} Hz); event-to-screen median "
          f"{1000 * statistics.median(delays):.0f} ms, p99 "
          f"{1000 * delays[int(0.99 * (len(delays) - 1))]:.0f} ms, max "
          f"{1000 * delays[-1]:.0f} ms (goal < 1000 ms)")
    report_redraw()


def report_redraw() -> None:
    replay, cpu, wall = redraw()
    print(f"redraw of a 100,000-step run at 120x40, all charts on screen: median "
          f"{1000 * statistics.median(wall):.1f} ms, max {1000 * max(wall):.1f} ms (goal < 50 "
          f"ms), of which UI-thread CPU {1000 * statistics.median(cpu):.1f} ms; replaying its "
          f"events on attach took {replay:.1f} s")


if __name__ == "__main__":
    main()
