"""A finished run launched again has nothing to train: no second evaluation, no rewrite."""

from __future__ import annotations

from redheart.runs.events import read_events
from tests.conftest import make_trainer


def test_resuming_a_finished_run_neither_evaluates_nor_writes_again(tmp_path,
                                                                    quickstart_data):
    finished = make_trainer(quickstart_data, tmp_path / "run")
    assert finished.fit().state.step == 6
    finished.close()
    last = tmp_path / "run" / "checkpoints" / "step-00000006"
    again = make_trainer(quickstart_data, tmp_path / "again")
    again.resume(last)
    outcome = again.fit()
    again.close()
    assert (outcome.reason, outcome.state.step, outcome.last_checkpoint) == ("done", 6, last)
    assert not list((tmp_path / "again" / "checkpoints").iterdir())     # nothing rewritten
    events = list(read_events(tmp_path / "again" / "events.jsonl"))
    assert [e["type"] for e in events if e["type"] in ("eval", "checkpoint")] == []
    assert [e["message"] for e in events if e["type"] == "warning"] == [
        "nothing left to train: step-00000006 is at step 6 and the run has 6 steps; raise "
        "train.max_steps (or train.epochs) to train further"]
