"""What a prediction is: typed results whose JSON form is `redheart predict --json`.

The Python API (`redheart.load(...).predict`) and the CLI hand out the same
objects, so a script and a shell pipeline can never disagree on a field.
Torch-free: the values are plain floats by the time they get here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from redheart.tasks import TARGETS

FINE_THRESHOLD = 0.3
"""A fine GoEmotions label counts as predicted from this probability on (the paper's protocol)."""

OUTPUT_LABELS: dict[str, tuple[str, ...] | None] = {t.output: t.labels for t in TARGETS}
"""Every user-facing output, in display order, with the names of its units (None: a number)."""

OUTPUT_TASK: dict[str, str] = {t.output: t.task for t in TARGETS}
HEAD_LEVEL_OUTPUTS = ("sentiment", "fine", "cultural")
"""Outputs the emotion head computes itself; its analyzer refines only the Ekman logits."""


@dataclass(frozen=True)
class ModelIdentity:
    """Which weights answered: enough to reproduce a prediction later."""

    path: str
    step: int
    config_hash: str
    disabled: tuple[str, ...] = ()


@dataclass(frozen=True)
class Output:
    """One named output of the model for one text."""

    value: float | dict[str, float]
    """A number, or unit name -> value (probabilities for the class outputs)."""
    trained: bool | None
    """False: no labelled row ever trained it; None: the checkpoint did not count."""
    source: str
    """"head+analyzer", or "head" where the task's analyzer is not built."""
    above_threshold: tuple[str, ...] | None = None
    """Fine labels at or over FINE_THRESHOLD, most probable first (fine only)."""
    wrong: bool | None = None
    """Regret only: the author judged in the wrong (regret above `threshold`)."""
    threshold: float | None = None
    """Regret only: the decision threshold fitted on training rows (0.5 if none was)."""


@dataclass(frozen=True)
class Prediction:
    """Every output for one text, and what produced it."""

    text: str
    tokens: int
    """Tokens the model read (at most the longest per-source max_tokens of training)."""
    truncated: bool
    """The text was longer than that: its end was cut ("head" truncation), or its middle
    ("head_tail")."""
    model: ModelIdentity
    outputs: dict[str, Output]
    fields: dict[str, Any] = field(default_factory=dict)
    """The input row's other JSONL fields, passed through."""

    def __getitem__(self, name: str) -> float | dict[str, float]:
        """`prediction["regret"]`: an output's value."""
        return self.outputs[name].value

    def as_json(self) -> dict[str, Any]:
        data = {"text": self.text, "tokens": self.tokens, "truncated": self.truncated,
                "model": dataclasses.asdict(self.model),
                "outputs": {name: _output_json(out) for name, out in self.outputs.items()}}
        data["model"]["disabled"] = list(self.model.disabled)
        if self.fields:
            data["fields"] = self.fields
        return data


def _output_json(output: Output) -> dict[str, Any]:
    data = {"value": output.value, "trained": output.trained, "source": output.source}
    if output.above_threshold is not None:
        data["above_threshold"] = list(output.above_threshold)
    if output.wrong is not None:
        data["wrong"], data["threshold"] = output.wrong, output.threshold
    return data
