"""A run that holds its lock but no longer steps: a hung collective, a dead data
loader, a filesystem that blocks a write. Nothing in `events.jsonl` says so, so
the training process watches its own step events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class StallWatch:
    """Says once per stall that no step event came for `minutes` while running.

    The clock starts at `run_started` (building the model and reading a
    checkpoint are not steps to wait for), paused time does not count (a
    paused run is waiting for its user), a step re-arms it, and a run that
    ended cannot stall.
    """

    def __init__(self, minutes: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit_s = minutes * 60.0
        self.minutes = minutes
        self._clock = clock
        self._since = clock()
        self._step: int | None = None
        self._paused = False
        self._started = False
        self._ended = False
        self._told = False

    def see(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "step":
            self._since, self._step, self._told = self._clock(), event.get("step"), False
        elif kind == "run_started":
            self._since, self._step, self._started = self._clock(), event.get("step"), True
        elif kind == "state":
            paused = event.get("state") == "paused"
            if self._paused and not paused:
                self._since = self._clock()         # the pause does not count
            self._paused = paused
        elif kind in ("run_finished", "error"):
            self._ended = True

    def due(self) -> dict[str, Any] | None:
        """The `stall` item to notify, once, when the run has been quiet too long."""
        if not self._started or self._ended or self._paused or self._told:
            return None
        if self._clock() - self._since < self.limit_s:
            return None
        self._told = True
        return {"type": "stall", "step": self._step, "minutes": self.minutes}
