"""The engine in process: control channel, events, the run directory.

Non-finite gradients are in tests/faults/test_nonfinite_module.py."""

from __future__ import annotations

import os

import pytest
import torch

from redheart.data.batching import loader
from redheart.runs.events import EventTail, EventWriter, read_events
from redheart.runs.run_dir import prepare_run_dir
from redheart.train import control
from redheart.train.trainer import TrainingError
from tests.conftest import make_trainer


@pytest.fixture()
def data(quickstart_data):
    return quickstart_data


def test_no_param_update_changes_no_parameter(tmp_path, data):
    trainer = make_trainer(data, tmp_path / "run", no_param_update=True)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    outcome = trainer.fit()
    assert outcome.state.step == 6 and len(outcome.history) == 6
    assert all(torch.equal(before[n], p) for n, p in trainer.model.named_parameters())


def test_control_commands_are_applied_between_steps_and_acknowledged(tmp_path, data):
    run_dir = tmp_path / "run"
    trainer = make_trainer(data, run_dir)
    control.send(run_dir, "set-lr", lr=5e-4)
    control.send(run_dir, "save-now")
    control.send(run_dir, "stop")
    outcome = trainer.fit()
    assert outcome.reason == "stopped" and outcome.state.step == 0
    states = [e for e in read_events(run_dir / "events.jsonl") if e["type"] == "state"]
    acknowledged = [s.get("command") for s in states if s.get("command")]
    assert acknowledged == ["set-lr", "save-now", "stop"]
    assert states[-1]["state"] == "stopping"
    assert trainer.state.lr_scale == pytest.approx(5e-4 / trainer.config.train.lr)
    assert (run_dir / "checkpoints" / "last").read_text().strip() == "step-00000000"


def test_pause_holds_training_until_resume(tmp_path, data):
    run_dir = tmp_path / "run"
    trainer = make_trainer(data, run_dir)
    control.send(run_dir, "pause")
    steps_while_paused = []

    def resume_later(result, state):
        steps_while_paused.append(state.step)

    import threading
    timer = threading.Timer(0.6, lambda: control.send(run_dir, "resume"))
    timer.start()
    outcome = trainer.fit(resume_later)
    timer.join()
    assert outcome.state.step == 6
    kinds = [e.get("state") for e in read_events(run_dir / "events.jsonl") if e["type"] == "state"]
    assert kinds[:3] == ["running", "paused", "running"]


def test_event_tail_never_returns_a_partial_line(tmp_path):
    path = tmp_path / "events.jsonl"
    writer = EventWriter(path)
    writer.emit("state", state="running")
    tail = EventTail(path)
    assert [e["seq"] for e in tail.poll()] == [0]
    with path.open("a") as f:
        f.write('{"v":1,"seq":1,"t":0,"type":"st')          # a writer caught mid-line
    assert tail.poll() == []
    with path.open("a") as f:
        f.write('ate","state":"paused"}\n')
    assert [e["state"] for e in tail.poll()] == ["paused"]
    resumed = EventWriter.resume(path)
    assert resumed.emit("state", state="running")["seq"] == 2


def test_run_directory_is_private(tmp_path, data):
    config = data[0]
    prepare_run_dir(tmp_path / "run", config, resuming=False)
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o700


def test_training_without_an_optimizer_is_an_error(tmp_path, data):
    trainer = make_trainer(data, tmp_path / "run")
    trainer.optimizer = None
    batch = next(iter(loader(trainer.train_sources, trainer.featurizer,
                             trainer.plan.epoch(0))))
    with pytest.raises(TrainingError, match="needs an optimizer"):
        trainer.train_step(batch)


def test_the_last_step_is_checkpointed_once_when_every_steps_divides_it(tmp_path, data):
    """The run's last step is evaluated and checkpointed as the best candidate; an interval
    checkpoint of the same step before it would only double the wait."""
    import dataclasses

    config, sources, featurizer = data
    every_two = dataclasses.replace(config, checkpoint=dataclasses.replace(
        config.checkpoint, every_steps=2))
    run_dir = tmp_path / "run"
    trainer = make_trainer((every_two, sources, featurizer), run_dir, max_steps=4)
    try:
        trainer.fit()
    finally:
        trainer.close()
    saved = [(e["step"], bool(e.get("best"))) for e in read_events(run_dir / "events.jsonl")
             if e["type"] == "checkpoint"]
    assert saved == [(2, False), (4, True)]


def test_a_control_file_rewritten_with_a_single_redirect_is_read_from_its_start(tmp_path):
    """`echo '{"cmd": "stop"}' > control` (`>` for `>>`) must not be skipped."""
    from redheart.train.control import ControlReader

    path = tmp_path / "control"
    path.write_text('{"cmd": "pause"}\n')                    # before the run: not replayed
    reader = ControlReader(tmp_path)
    assert reader.poll() == []
    with path.open("a") as f:
        f.write('{"cmd": "resume"}\n{"cmd": "save-')            # a line still being written
    assert [c["cmd"] for c in reader.poll()] == ["resume"]
    with path.open("a") as f:
        f.write('now"}\n')
    assert [c["cmd"] for c in reader.poll()] == ["save-now"]
    path.write_text('{"cmd": "stop"}\n')                     # shorter than what was read
    assert [c["cmd"] for c in reader.poll()] == ["stop"]
    path.write_text('{"cmd": "set-lr", "lr": 0.0003}\n{"cmd": "pause"}\n')    # longer
    assert [c["cmd"] for c in reader.poll()] == ["set-lr", "pause"]
    assert reader.poll() == []
    stat = path.stat()
    path.write_text('{"cmd": "set-lr", "lr": 0.0003}\n{"cmd": "pause"}\n')    # the same again
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))   # a later write
    assert [c["cmd"] for c in reader.poll()] == ["set-lr", "pause"]
    assert reader.poll() == []
    path.unlink()                                            # removed, then a fresh one
    assert reader.poll() == []
    path.write_text('{"cmd": "stop"}\n')
    assert [c["cmd"] for c in reader.poll()] == ["stop"]
