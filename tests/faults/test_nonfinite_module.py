"""A non-finite gradient injected into one module: named by default, counted with `skip`."""

from __future__ import annotations

import json

import pytest
import torch

from redheart.runs.events import read_events
from redheart.train.trainer import TrainingError
from tests.conftest import make_trainer
from tests.faults.harness import poison


def test_by_default_the_error_names_the_module(tmp_path, quickstart_data):
    trainer = make_trainer(quickstart_data, tmp_path / "run")
    poison(trainer, "regret_analyzer", batches={4})    # after the step-3 checkpoint
    with pytest.raises(TrainingError, match=r"non-finite gradient in module 'regret_analyzer' "
                                            r"at step (\d+); last good checkpoint: ") as raised:
        trainer.fit()
    errors = [e for e in read_events(tmp_path / "run" / "events.jsonl") if e["type"] == "error"]
    assert errors[0]["module"] == "regret_analyzer" and errors[0]["cause"] == "nonfinite"
    assert f"at step {errors[0]['step']};" in str(raised.value)
    last = tmp_path / "run" / "checkpoints" / "step-00000003"
    assert errors[0]["last_checkpoint"] == str(last) and (last / "state.json").is_file()
    assert f"last good checkpoint: {last}; resume from {last} with a lower lr" in \
        str(raised.value)


def test_skip_counts_the_skipped_steps_and_trains_on(tmp_path, quickstart_data):
    trainer = make_trainer(quickstart_data, tmp_path / "run", on_nonfinite="skip", max_skips=2)
    poison(trainer, "backbone", batches={1, 3})        # two bad batches, each followed by good
    outcome = trainer.fit()
    assert outcome.state.step == 6                      # every planned step still happened
    assert trainer.state.skipped_total == 2 and trainer.state.skipped == 0
    warnings = [e for e in read_events(tmp_path / "run" / "events.jsonl")
                if e["type"] == "warning"]
    assert [(w["module"], w["step"]) for w in warnings] == [("backbone", 1),
                                                            ("backbone", 2)]
    assert all("step skipped (1 in a row)" in w["message"] for w in warnings)
    state = json.loads((outcome.last_checkpoint / "state.json").read_text())
    assert state["skipped_total"] == 2                  # survives a resume


def test_skip_stops_after_max_skips_in_a_row(tmp_path, quickstart_data):
    trainer = make_trainer(quickstart_data, tmp_path / "run", on_nonfinite="skip", max_skips=2)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    poison(trainer, "backbone")
    with pytest.raises(TrainingError, match="3 consecutive steps skipped"):
        trainer.fit()
    warnings = [e for e in read_events(tmp_path / "run" / "events.jsonl")
                if e["type"] == "warning"]
    assert [w["module"] for w in warnings] == ["backbone"] * 3
    errors = [e for e in read_events(tmp_path / "run" / "events.jsonl") if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["cause"] == "nonfinite"   # failed, not killed
    assert "3 consecutive steps skipped" in errors[0]["message"]
    assert trainer.state.skipped_total == 3
    assert all(torch.equal(before[n], p) for n, p in trainer.model.named_parameters())
