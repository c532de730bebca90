"""The rows `redheart validate` scores, and how any predictor's outputs are scored.

The model, the prior and the probe each fill a `Predictions` for the same
`EvalSet`, in the same row order, and `score` turns each into the same
metrics with the same bootstrap resamples: a baseline is computed exactly
the way the model is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from redheart.data.sources import SourceData
from redheart.train import bootstrap, metrics

Key = tuple[int, int]
"""(source index, row index) of an evaluation row."""


@dataclass
class EvalSet:
    """Targets of the evaluation rows per task, with the texts a probe reads."""

    emotion_keys: list[Key] = field(default_factory=list)
    emotion: list[tuple[float, ...]] = field(default_factory=list)
    regret_keys: list[Key] = field(default_factory=list)
    regret: list[float] = field(default_factory=list)
    surd_keys: list[Key] = field(default_factory=list)
    surd: list[tuple[float, ...]] = field(default_factory=list)
    pair_keys: list[Key] = field(default_factory=list)
    less_ethical: list[int] = field(default_factory=list)
    texts: dict[str, list] = field(default_factory=dict)
    """Task -> text per row (a pair: (first, second)), for the probe's features."""

    @classmethod
    def of(cls, sources: list[SourceData]) -> EvalSet:
        """Every labelled row, in source order; a dilemma source contributes its pairs only
        (as the batch loader does)."""
        rows = cls(texts={"emotion": [], "regret": [], "surd": [], "pairs": []})
        for s, data in enumerate(sources):
            if data.pairs:
                for i, pair in enumerate(data.pairs):
                    rows.pair_keys.append((s, i))
                    rows.less_ethical.append(pair.less_ethical)
                    rows.texts["pairs"].append((pair.first, pair.second))
                continue
            for i, example in enumerate(data.examples):
                for task, keys, values in (("emotion", rows.emotion_keys, rows.emotion),
                                           ("regret", rows.regret_keys, rows.regret),
                                           ("surd", rows.surd_keys, rows.surd)):
                    value = getattr(example, task)
                    if value is not None:
                        keys.append((s, i))
                        values.append(value)
                        rows.texts[task].append(example.text)
        return rows

    def counts(self) -> dict[str, int]:
        """Rows scored per task (`emotion_single_label`: rows with exactly one class)."""
        single = (int(metrics.single_label_rows(metrics.emotion_sets(self.emotion)).sum())
                  if self.emotion else 0)
        return {"emotion": len(self.emotion), "emotion_single_label": single,
                "regret": len(self.regret), "bentham": len(self.less_ethical),
                "surd": len(self.surd)}


@dataclass
class Predictions:
    """One predictor's outputs on an `EvalSet`'s rows; None where it has none."""

    emotion: np.ndarray | None = None
    """[N, 7] class probabilities, EKMAN order."""
    regret: np.ndarray | None = None
    """[M] regret estimates in [0, 1]."""
    wrong: np.ndarray | None = None
    """[M] bool: the predictor's WRONG decision."""
    wrong_threshold: float | None = None
    """The regret above which `wrong` is decided, fitted on the predictor's training rows."""
    less_ethical: np.ndarray | None = None
    """[P] the action predicted less ethical (0 first, 1 second; -1: cannot tell)."""
    surd: np.ndarray | None = None
    """[K, 4] SURD shares."""


def _interval_of(statistic: metrics.Statistic) -> Any:
    found = bootstrap.interval(statistic)
    if isinstance(found, list) and found and isinstance(found[0], list):
        from redheart.tasks import EKMAN

        return dict(zip(EKMAN, found, strict=True))
    return found


def score(rows: EvalSet, predictions: Predictions) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, intervals): {task: {metric: value}} and {task: {metric: [low, high]}}.

    Every metric gets a 95% percentile bootstrap interval over its own rows
    (pairs for pairwise accuracy); a metric that is undefined (Pearson r of
    a constant) is None, and so is its interval.
    """
    found: dict[str, tuple[dict, dict]] = {}
    if rows.emotion and predictions.emotion is not None:
        truth = metrics.emotion_sets(rows.emotion)
        values, stats = metrics.emotion_paper(truth, predictions.emotion)
        single = metrics.single_label_rows(truth)
        if single.any():
            more_values, more_stats = metrics.emotion_single(truth[single],
                                                             predictions.emotion[single])
            values, stats = values | more_values, stats | more_stats
        found["emotion"] = values | {"count": len(truth)}, stats
    if rows.regret and predictions.regret is not None:
        values, stats = metrics.regret(np.asarray(rows.regret), predictions.regret,
                                       predictions.wrong)
        found["regret"] = values | {"count": len(rows.regret)}, stats
    if rows.less_ethical and predictions.less_ethical is not None:
        values, stats = metrics.pairwise(np.asarray(rows.less_ethical), predictions.less_ethical)
        found["bentham"] = values | {"count": len(rows.less_ethical)}, stats
    if rows.surd and predictions.surd is not None:
        values, stats = metrics.surd(np.asarray(rows.surd), predictions.surd)
        found["surd"] = values | {"count": len(rows.surd)}, stats
    values = {task: v for task, (v, _) in found.items()}
    intervals = {task: {name: None if v[name] is None else _interval_of(stat)
                        for name, stat in stats.items()}
                 for task, (v, stats) in found.items()}
    return values, intervals
