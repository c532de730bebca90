"""Messages the console's workers post to the UI thread (workers never touch widgets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from redheart.runs.listing import RunSummary


@dataclass
class ForecastReady(Message):
    """A memory plan (module table + forecast) computed in a worker."""

    plan: dict[str, Any]


@dataclass
class StartRefused(Message):
    """The engine refused to start (the plan does not fit), or the user cancelled the
    start while its data was read (`cancelled`); nothing was written."""

    reason: str
    cancelled: bool = False


@dataclass
class TrainingEnded(Message):
    """The in-process run returned; `error` is its one-line reason when it failed."""

    error: str | None


@dataclass
class ModuleToggled(Message):
    """The user asked to switch an optional module on or off."""

    name: str


@dataclass
class PredictionReady(Message):
    """One answer of a predictor (`client` tells a stale one from the current one)."""

    client: object
    result: dict[str, Any]


@dataclass
class PredictionFailed(Message):
    """A predictor ended or could not start; `error` is its one-line reason."""

    client: object
    error: str


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
