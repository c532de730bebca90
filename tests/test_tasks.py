"""The task vocabulary and the places that must spell one entry per task or target.

These are the places a new task or target has to be added by hand (a config
field, an analyzer, an Example field); the test names the one that was missed.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from redheart.config import TaskWeights
from redheart.data.example import Example
from redheart.model.catalog import ANALYZER_OF_TASK
from redheart.tasks import TARGETS, TASKS
from tests.conftest import ROOT


def test_every_task_has_a_loss_weight_and_an_analyzer():
    assert tuple(f.name for f in dataclasses.fields(TaskWeights)) == TASKS
    assert tuple(ANALYZER_OF_TASK) == TASKS


def test_every_target_is_an_example_field_of_a_known_task():
    fields = {f.name for f in dataclasses.fields(Example)}
    for target in TARGETS:
        assert target.field in fields, target
        assert target.task in TASKS, target
    assert len({t.output for t in TARGETS}) == len(TARGETS)


def test_vocabulary_is_torch_free():
    """The console imports it, and the console never loads torch."""
    code = "import sys, redheart.tasks; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
