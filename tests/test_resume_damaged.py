"""`--resume last` past a damaged newest checkpoint says so, instead of redoing its steps
without a word."""

from __future__ import annotations

from redheart.runs.events import read_events
from tests.conftest import run_here


def test_resume_last_names_the_damaged_checkpoint_it_passed_over(tmp_path, quickstart_data):
    cache = quickstart_data[0].data.cache_dir
    common = ["profiles/quickstart.toml", "--samples", "40", "--quiet",
              "--set", f'data.cache_dir="{cache}"', "--run-dir", str(tmp_path / "run"),
              "--set", "train.max_steps=4", "--set", "checkpoint.every_steps=2"]
    assert run_here("run", *common).returncode == 0
    newest = tmp_path / "run" / "checkpoints" / "step-00000004"
    (newest / "state.json").write_text("")                  # damaged after it was written
    resumed = run_here("run", *common, "--resume", "last")
    assert resumed.returncode == 0, resumed.stderr
    events = list(read_events(tmp_path / "run" / "events.jsonl"))
    last_launch = events[max(i for i, e in enumerate(events) if e["type"] == "plan"):]
    assert [e["message"] for e in last_launch if e["type"] == "warning"] == [
        "--resume last: step-00000004 is damaged (no readable state.json or "
        "model.safetensors) and was passed over; continuing from step-00000002"]
    assert next(e for e in last_launch if e["type"] == "run_started")["step"] == 2
