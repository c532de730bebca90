"""The step profiler's window: which steps it records, and a launch that ends before it."""

from __future__ import annotations

import json

import torch

from redheart.train.step_profiler import StepProfiler


def _steps(profiler: StepProfiler, count: int) -> None:
    a = torch.ones(64, 64)
    for _ in range(count):
        a = (a @ a).tanh()
        profiler.step()


def test_it_records_n_steps_after_the_first_two_of_the_launch(tmp_path):
    profiler = StepProfiler(2, tmp_path, torch.device("cpu"))
    profiler.start(10)                  # a resumed run: the launch begins at step 10
    _steps(profiler, 6)
    profiler.stop()
    assert profiler.trace == tmp_path / "profile" / "rank0.steps-13-14.pt.trace.json"
    names = [e.get("name", "") for e in json.loads(profiler.trace.read_text())["traceEvents"]]
    assert sorted(n for n in names if n.startswith("ProfilerStep#")) == [
        "ProfilerStep#2", "ProfilerStep#3"]


def test_a_launch_that_ends_inside_the_window_writes_what_it_recorded(tmp_path):
    profiler = StepProfiler(5, tmp_path, torch.device("cpu"))
    profiler.start(0)
    _steps(profiler, 3)
    profiler.stop()
    assert profiler.trace == tmp_path / "profile" / "rank0.steps-3-3.pt.trace.json"


def test_a_launch_that_ends_before_the_window_writes_nothing(tmp_path):
    profiler = StepProfiler(3, tmp_path, torch.device("cpu"))
    profiler.start(0)
    _steps(profiler, 2)
    profiler.stop()
    assert profiler.trace is None and not (tmp_path / "profile").exists()
