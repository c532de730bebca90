"""Messages the console's workers post to the UI thread (workers never touch widgets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from redheart.runs.listing import RunSummary


class ForecastReady(Message):
    """A memory plan (module table + forecast) computed in a worker."""

    def __init__(self, plan: dict[str, Any]) -> None:
        super().__init__()
        self.plan = plan


class StartRefused(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class TrainingEnded(Message):
    def __init__(self, error: str | None) -> None:
        super().__init__()
        self.error = error


class ModuleToggled(Message):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class PredictionReady(Message):
    """One answer of a predictor (`client` tells a stale one from the current one)."""

    def __init__(self, client: object, result: dict[str, Any]) -> None:
        super().__init__()
        self.client = client
        self.result = result


class PredictionFailed(Message):
    """A predictor ended or could not start; `error` is its one-line reason."""

    def __init__(self, client: object, error: str) -> None:
        super().__init__()
        self.client = client
        self.error = error


@dataclass
class RunsListed(Message):
    """A listing of the runs root, or why there is none (one line)."""

    runs: list[RunSummary]
    error: str | None = None


@dataclass
class CompareLoaded(Message):
    """The compared runs, each folded into a RunView (by run name), and their merged
    config diff rows; or why they could not be read."""

    views: dict[str, Any]
    diff: list[tuple[str, ...]]
    error: str | None = None
