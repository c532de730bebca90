"""Regret as a decision: was the author in the wrong (more than half the votes WRONG)?

About a third of Scruples anecdotes are WRONG, so a regression of the WRONG
share stays under 0.5 for almost every text, and "regret > 0.5" then almost
never says WRONG even when the ranking is right. The trainer therefore picks
the threshold on predicted regret that maximises the F1 of WRONG on a sample
of training rows (never evaluation rows), and stores it with the checkpoint;
the regression itself, and so its MAE, is untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from redheart.data.sources import SourceData

DEFAULT_THRESHOLD = 0.5
"""The binarisation of the target itself: used when a checkpoint holds no calibrated one."""
CALIBRATION_ROWS = 2048
"""Training rows the threshold is fitted on: enough for a stable F1, seconds of forward."""


def calibration_sources(train: list[SourceData], seed: int,
                        rows: int = CALIBRATION_ROWS) -> list[SourceData]:
    """A fixed sample of the training rows that carry a regret target (the same every epoch
    and on every rank), as sources the loader can batch."""
    labelled = [(i, j) for i, source in enumerate(train)
                for j, example in enumerate(source.examples) if example.regret is not None]
    if not labelled:
        return []
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(labelled), size=min(rows, len(labelled)), replace=False))
    picked: dict[int, list[int]] = {}
    for index in chosen:
        source, row = labelled[index]
        picked.setdefault(source, []).append(row)
    return [dataclasses.replace(train[s], examples=[train[s].examples[r] for r in kept],
                                pairs=[]) for s, kept in picked.items()]


def best_threshold(predicted: np.ndarray, wrong: np.ndarray) -> float | None:
    """The threshold t maximising the F1 of `predicted > t` against `wrong`.

    Every cut between two neighbouring predictions is tried at once: sorted
    descending, predicting the top k as WRONG has TP = cumsum(wrong)[k] and
    F1 = 2 TP / (k + positives). None without both classes (nothing to fit).
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    wrong = np.asarray(wrong, dtype=bool)
    positives = int(wrong.sum())
    if positives == 0 or positives == len(wrong):
        return None
    order = np.argsort(-predicted, kind="stable")
    ranked, hits = predicted[order], wrong[order]
    true_positives = np.cumsum(hits)
    f1 = 2 * true_positives / (np.arange(1, len(ranked) + 1) + positives)
    # Only cuts between distinct values are realisable by a threshold.
    distinct = np.append(ranked[:-1] > ranked[1:], True)
    k = int(np.argmax(np.where(distinct, f1, -1.0)))
    if k + 1 == len(ranked):
        return float(ranked[-1]) - 1e-6          # everything is WRONG
    return float((ranked[k] + ranked[k + 1]) / 2)


def decision_threshold(meta: Mapping[str, Any] | None) -> float:
    """The WRONG threshold a checkpoint's state.json (or export.json) carries, else 0.5."""
    value = (meta or {}).get("regret_threshold")
    return float(value) if isinstance(value, (int, float)) else DEFAULT_THRESHOLD
