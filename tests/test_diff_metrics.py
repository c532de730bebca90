"""`redheart diff`'s numbers, from run directories written by hand: what each one is taken
from, so two runs' rows compare like with like."""

from __future__ import annotations

import json
from pathlib import Path

from redheart.runs.config_diff import diff_runs

TRAIN_LOSS_STEPS = 20
"""What the README says final.train_loss averages."""


def _run(folder: Path, totals: list[float], evals: dict[int, float],
         relaunch_at: int | None = None) -> Path:
    """A finished run whose step i (from 1) has training total totals[i-1]; a second
    launch (its own `plan`) starts after step `relaunch_at`."""
    folder.mkdir()
    (folder / "config.toml").write_text('[run]\nname = "sweep"\n')
    events: list[dict] = [{"type": "plan"}, {"type": "run_started", "step": 0, "t": 0.0}]
    for step, total in enumerate(totals, start=1):
        if step - 1 == relaunch_at:
            events += [{"type": "plan"}, {"type": "run_started", "step": relaunch_at}]
        events.append({"type": "step", "step": step, "t": float(step),
                       "loss": {"total": total}, "samples_per_s": 1.0})
        if step in evals:
            events.append({"type": "eval", "step": step, "metrics": {"loss": evals[step]}})
    events.append({"type": "run_finished", "summary": {"reason": "done", "steps": len(totals)}})
    with (folder / "events.jsonl").open("w") as f:
        for seq, event in enumerate(events, start=1):
            f.write(json.dumps({"v": 1, "seq": seq, **event}) + "\n")
    return folder


def test_final_train_loss_is_the_mean_of_the_last_steps_not_one_batch(tmp_path):
    # a saw, as batches of different sources give: 5.0 on emotion batches, 0.1 on pairs
    saw = [5.0 if i % 2 else 0.1 for i in range(40)]
    a = _run(tmp_path / "a", saw, {40: 7.0})                      # last batch: emotion
    b = _run(tmp_path / "b", [*saw[:39], 0.1], {40: 7.0})         # last batch: pairs
    metrics = diff_runs(a, b)["metrics"]
    tail_a = saw[-TRAIN_LOSS_STEPS:]
    tail_b = [*saw[:39], 0.1][-TRAIN_LOSS_STEPS:]
    assert metrics["final.train_loss"]["a"] == sum(tail_a) / len(tail_a)
    assert metrics["final.train_loss"]["b"] == sum(tail_b) / len(tail_b)
    assert abs(metrics["final.train_loss"]["a"] - metrics["final.train_loss"]["b"]) < 0.25


def _write(folder: Path, events: list[dict]) -> Path:
    folder.mkdir()
    (folder / "config.toml").write_text('[run]\nname = "sweep"\n')
    with (folder / "events.jsonl").open("w") as f:
        for seq, event in enumerate(events, start=1):
            f.write(json.dumps({"v": 1, "seq": seq, **event}) + "\n")
    return folder


def _steps(values: dict[int, float]) -> list[dict]:
    return [{"type": "step", "step": step, "loss": {"total": total}}
            for step, total in values.items()]


def test_final_train_loss_follows_the_run_across_a_resume_and_a_launch_without_steps(tmp_path):
    """Killed at step 29, resumed from 20: its steps 21..29 were done again, so the run's
    last 20 are launch 1's 11..20 and launch 2's 21..30. A finished run launched again
    (`nothing left to train`) adds a launch with no steps, which changes nothing."""
    launch = [{"type": "plan"}, {"type": "run_started", "step": 0}]
    killed = _steps({step: 9.0 if step > 20 else 4.0 for step in range(1, 30)})
    resumed = _steps({step: 2.0 for step in range(21, 31)})
    done = {"type": "eval", "step": 30, "metrics": {"loss": 7.0}}
    again = [{"type": "plan"}, {"type": "run_started", "step": 30}, {"type": "warning"}]
    events = [*launch, *killed, *launch[:1], {"type": "run_started", "step": 20}, *resumed,
              done]
    a = _write(tmp_path / "a", events)
    b = _write(tmp_path / "b", [*events, *again])
    metrics = diff_runs(a, b)["metrics"]
    assert metrics["final.train_loss"] == {"a": 3.0, "b": 3.0}      # (10 x 4.0 + 10 x 2.0) / 20


def test_the_newest_eval_says_its_step(tmp_path):
    a = _run(tmp_path / "a", [1.0] * 25, {18: 7.5})   # evaluated at 18, now at step 25
    b = _run(tmp_path / "b", [1.0] * 40, {18: 7.9, 36: 7.2})
    metrics = diff_runs(a, b)["metrics"]
    assert metrics["final.step"] == {"a": 25, "b": 40}
    assert metrics["final.eval.step"] == {"a": 18, "b": 36}
    assert metrics["final.eval.loss"] == {"a": 7.5, "b": 7.2}
