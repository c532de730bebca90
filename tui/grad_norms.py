"""Per-module gradient norms from the step events, and which module just jumped.

Every `step` event carries `grad_norm_by_module`. A module whose norm is
suddenly ten times its recent median is the first sign of a blow-up (a bad
batch, a learning rate too high for that module), long before the total
norm or the loss shows it; the panel marks it while the jump is in view.

The median is taken over earlier steps of the same kind of batch: those that
trained the same tasks (the keys of the event's `loss`). Each batch comes from
one source, and a module's norm depends on which: the emotion head's gradient
on a dilemma-pair batch is a hundredth of its gradient on a GoEmotions batch,
so against a median over every step each GoEmotions batch after a few pair
batches read as a 100x jump, and a healthy multi-task run was always red.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

TREND = 32
"""Norms kept per module: the trend drawn and the window the median is taken over."""
JUMP = 10.0
"""A norm above JUMP times the median of the module's previous norms is a jump."""
MIN_HISTORY = 3
"""Norms needed before a median means anything."""


@dataclass(frozen=True)
class ModuleNorms:
    name: str
    last: float
    median: float | None
    """Median of the norms before the last one on batches of its kind (None while too
    few)."""
    trend: tuple[float, ...]
    jump: float | None
    """Ratio of the latest jump still in the trend window to the median before it."""
    jump_step: int | None


def jump_ratio(previous: Collection[float], value: float) -> float | None:
    """value / median(previous) when that is over JUMP (or the value is not finite);
    None otherwise, or with too little history to judge. `previous` holds finite norms
    only (a NaN would make the median meaningless)."""
    if len(previous) < MIN_HISTORY:
        return None
    if not math.isfinite(value):
        return math.inf
    if value <= JUMP * min(previous):      # the median is at least the minimum: no jump
        return None                        # (and no sort, on every step of every module)
    median = statistics.median(previous)
    if median <= 0:
        return math.inf if value > 0 else None
    ratio = value / median
    return ratio if ratio > JUMP else None


def batch_kind(step_event: dict) -> frozenset[str]:
    """The kind of batch a step trained: the names of its losses (the tasks, and `moe`)."""
    return frozenset(step_event.get("loss") or {}) - {"total"}


class GradNorms:
    """Module -> its last TREND (step, norm) pairs, and its latest jump."""

    def __init__(self) -> None:
        self._history: dict[str, deque[tuple[int, float]]] = {}
        self._norms: dict[tuple[str, frozenset[str]], deque[float]] = {}
        """(module, batch kind) -> the finite norms among its steps of that kind, without
        steps: what the median is taken of."""
        self._latest: dict[str, tuple[frozenset[str], bool]] = {}
        """module -> the kind of its latest step, and whether that norm joined the median's
        norms (a non-finite one does not)."""
        self._jumps: dict[str, tuple[int, float]] = {}

    def add(self, step: int, norms: dict[str, float], kind: Collection[str] = ()) -> None:
        """One step's norms; `kind` names the tasks its batch trained (its loss names)."""
        batch = frozenset(kind)
        for name, value in norms.items():
            if not isinstance(value, (int, float)):
                continue
            history = self._history.get(name)
            if history is None:
                history = self._history[name] = deque(maxlen=TREND)
            same_kind = self._norms.setdefault((name, batch), deque(maxlen=TREND))
            ratio = jump_ratio(same_kind, float(value))
            if ratio is not None:
                self._jumps[name] = (step, ratio)
            history.append((step, float(value)))
            finite = math.isfinite(value)
            if finite:
                same_kind.append(float(value))
            self._latest[name] = (batch, finite)

    def _median(self, name: str) -> float | None:
        """The median the latest norm was judged against: same kind, before it."""
        batch, joined = self._latest[name]
        before = list(self._norms[(name, batch)])[:-1 if joined else None]
        return statistics.median(before) if len(before) >= MIN_HISTORY else None

    def rows(self) -> list[ModuleNorms]:
        """One row per module, in the order they first appeared (the model's order); a
        jump is reported while its step is still within the module's trend window."""
        out = []
        for name, history in self._history.items():
            values = [v for _, v in history]
            step, ratio = self._jumps.get(name, (None, None))
            in_view = step is not None and step >= history[0][0]
            out.append(ModuleNorms(
                name, values[-1], self._median(name), tuple(values),
                ratio if in_view else None, step if in_view else None))
        return out

    @property
    def jumping(self) -> list[str]:
        """Modules marked now."""
        return [row.name for row in self.rows() if row.jump is not None]
