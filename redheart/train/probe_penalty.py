"""The probes' regularisation, picked on their own training rows.

A linear probe with a fixed penalty is a baseline of arbitrary strength: on
the 1,833 training dilemma pairs of `cpu-real`, logistic regression with
C = 1 scores 0.617 on the held-out pairs and with C = 0.01 scores 0.647
(`bench/pairs_ceiling.py`), so a fixed C = 1 flattered the model. Each
probe therefore fits every candidate penalty on four fifths of its training
rows, keeps the one with the lowest loss of its own kind (log loss, or the
squared error for ridge) on the remaining fifth, and is then fitted on all
of them. Evaluation rows play no part, and the fifth is drawn with a fixed
seed, so the pick repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

LOGISTIC_C = (0.001, 0.01, 0.1, 1.0)
"""Inverse penalties tried for the logistic probes (their features are standardised)."""
RIDGE_ALPHA = (1.0, 10.0, 100.0, 1000.0)
"""Penalties tried for the ridge probe."""
HELD_SHARE = 0.2
"""The share of training rows a penalty is judged on."""
MIN_HELD_ROWS = 20
"""Fewer held rows than this judge nothing: the probe keeps its default penalty."""
SEED = 0


@dataclass(frozen=True)
class Penalty:
    """A probe's penalty and how it was picked, for `validate --json`."""

    name: str
    """"C" (logistic regression) or "alpha" (ridge)."""
    value: float
    judged_on: int
    """Training rows the candidates were scored on; 0 when there were too few to pick."""

    def as_json(self) -> dict[str, float | int]:
        return {self.name: self.value, "judged_on": self.judged_on}


def held_rows(count: int, seed: int = SEED) -> np.ndarray:
    """A boolean mask of the fixed-seed fifth of `count` training rows that judges penalties."""
    held = np.zeros(count, dtype=bool)
    held[np.random.default_rng(seed).permutation(count)[:int(round(count * HELD_SHARE))]] = True
    return held


def pick(name: str, candidates: Sequence[float], default: float, held: np.ndarray,
         loss: Callable[[float], float | None]) -> Penalty:
    """The candidate whose `loss` (fitted without the `held` training rows, measured on
    them) is lowest.

    `default` (the penalty every probe used before penalties were picked:
    scikit-learn's own, 1.0) is kept when there are too few rows to judge on,
    or when `loss` returns None because the rows left to fit on hold one
    class only.
    """
    judged_on = int(held.sum())
    if judged_on < MIN_HELD_ROWS or judged_on == len(held):
        return Penalty(name, default, 0)
    losses = []
    for value in candidates:
        measured = loss(value)
        if measured is None:
            return Penalty(name, default, 0)
        losses.append(measured)
    return Penalty(name, candidates[int(np.argmin(losses))], judged_on)
