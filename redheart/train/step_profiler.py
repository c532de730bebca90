"""`redheart run --profile-steps N`: a torch.profiler trace of N training steps.

Where a step's time goes (kernels, launches, host syncs, the data loader) is
what decides what to speed up; samples/s alone cannot say. The trace is
Chrome-trace JSON named `*.pt.trace.json` in the run directory's `profile/`
folder: Perfetto (ui.perfetto.dev) opens the file, and TensorBoard's
profiler plugin reads the folder.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, schedule

PROFILE_FOLDER = "profile"

STEPS_BEFORE = 2
"""Steps of a launch run before recording: the first allocates, initialises lazily (and
compiles, with [train] compile), the second warms the profiler up. Neither is typical."""


class StepProfiler:
    """Records steps STEPS_BEFORE + 1 .. STEPS_BEFORE + N of this launch; nothing when N = 0."""

    def __init__(self, steps: int, run_dir: Path | None, device: torch.device,
                 rank: int = 0) -> None:
        self.steps = steps if run_dir is not None else 0
        self.folder = run_dir / PROFILE_FOLDER if run_dir is not None else None
        self.device = device
        self.rank = rank
        self.trace: Path | None = None
        """The written trace, once the recorded steps are done (or the run ended in them)."""
        self._profiler: profile | None = None
        self._first_step = 0
        self._launch_steps = 0

    def start(self, step: int) -> None:
        """Begin counting at the launch's first step (`step`: the run's step count now)."""
        if not self.steps:
            return
        activities = [ProfilerActivity.CPU]
        if self.device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        self._first_step = step + STEPS_BEFORE + 1
        self._profiler = profile(
            activities=activities, record_shapes=True,
            schedule=schedule(wait=STEPS_BEFORE - 1, warmup=1, active=self.steps, repeat=1),
            on_trace_ready=self._write)
        self._profiler.start()

    def step(self) -> None:
        """After each training step."""
        if self._profiler is not None:
            self._launch_steps += 1
            self._profiler.step()

    def stop(self) -> None:
        """At the end of the launch: a recording still going is written as it stands."""
        if self._profiler is not None:
            self._profiler.stop()
            self._profiler = None

    def _write(self, recorded: profile) -> None:
        steps = min(self.steps, self._launch_steps - STEPS_BEFORE)
        if steps < 1:           # the launch ended before the recording began
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        last = self._first_step + steps - 1
        path = self.folder / f"rank{self.rank}.steps-{self._first_step}-{last}.pt.trace.json"
        recorded.export_chrome_trace(str(path))
        self.trace = path
