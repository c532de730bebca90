"""What a run tells whoever started it while it goes, and the reporter that tells nothing.

Torch-free (the trainer's types are named for the type checker only), so
the console can subclass `QuietReporter` without importing the engine
before a run starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redheart.train.trainer import RunOutcome, StepResult, Trainer


class Reporter(Protocol):
    """What the CLI shows while a run goes (Rich progress, plain lines, nothing)."""

    def started(self, run_dir: Path, trainer: Trainer) -> None: ...
    def step(self, result: StepResult, state: Any) -> None: ...
    def encoding(self, done: int, total: int) -> None: ...
    def finished(self, run_dir: Path, outcome: RunOutcome | None) -> None: ...
    def event(self, event: dict[str, Any]) -> None:
        """Each event as it is written to events.jsonl (run_training attaches it as a
        listener when the reporter has it), from whichever thread emitted it."""


class QuietReporter:
    """Reports nothing: what ranks other than 0 report (rank 0 speaks for the job), and
    the base of a reporter that wants one hook only (the console's encoding progress)."""

    def started(self, run_dir: Path, trainer: Trainer) -> None: ...
    def step(self, result: StepResult, state: Any) -> None: ...
    def encoding(self, done: int, total: int) -> None: ...
    def finished(self, run_dir: Path, outcome: RunOutcome | None) -> None: ...
    def event(self, event: dict[str, Any]) -> None: ...
