"""`--resume` onto rows other than the checkpoint's is refused before any weight is loaded."""

from __future__ import annotations

import dataclasses
import json

import pytest

from redheart.runs.checkpoints import CheckpointError
from redheart.train import control
from tests.conftest import make_trainer


@pytest.fixture()
def stopped(tmp_path, quickstart_data):
    """The step-0 checkpoint of a run stopped before its first step (no training needed)."""
    run_dir = tmp_path / "run"
    trainer = make_trainer(quickstart_data, run_dir)
    control.send(run_dir, "stop")
    trainer.fit()
    trainer.close()
    return run_dir / "checkpoints" / "step-00000000"


def test_a_source_whose_rows_changed_is_refused_naming_it(tmp_path, quickstart_data, stopped):
    config, sources, featurizer = quickstart_data
    first = sources[0]
    shorter = dataclasses.replace(first, examples=first.examples[:100])
    trainer = make_trainer((config, [shorter, *sources[1:]], featurizer), tmp_path / "other")
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    with pytest.raises(CheckpointError) as refused:
        trainer.resume(stopped)
    message = str(refused.value)
    assert message.startswith(f"{stopped}: the training data changed since it was written "
                              f"({first.source.path} (train): ")
    then = json.loads((stopped / "state.json").read_text())["data"][0]["rows"]
    now = trainer.data[0]["rows"]
    assert then > now > 0
    assert f"(train): {then} rows then, {now} now); its data position" in message
    assert message.endswith(f"--set train.init_from={stopped}")
    assert trainer.state.step == 0                   # nothing was loaded
    assert all((before[n] == p).all() for n, p in trainer.model.named_parameters())


def test_the_same_rows_resume(tmp_path, quickstart_data, stopped):
    trainer = make_trainer(quickstart_data, tmp_path / "same")
    trainer.resume(stopped)
    assert trainer.state.data == trainer.data and trainer.state.data[0]["rows"] > 90
