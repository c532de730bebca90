"""Task metrics of `redheart validate`, each computed two ways.

The reported value comes from scikit-learn (or SciPy for Pearson r), so it
means exactly what the library's documentation says. The bootstrap needs
the same metric on 1,000 resamples, which sklearn cannot do in seconds; so
each metric is also written as a `Statistic`: per-row numbers whose sums
determine the metric (true/false positive counts for F1, sums of squares for
Pearson r). A resample is then a weighted sum, and all 1,000 are one matrix
product. Tests assert that both ways agree on the full set.

Emotion follows the GoEmotions paper (Demszky et al., 2020): a row's true
classes are every Ekman class with a nonzero share in its normalised
multi-hot target (two tied classes are both true, never the lower index), a
class is predicted when its probability is >= 0.3, and the macro-F1 averages
the per-class binary F1 over all seven classes, present or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from redheart.tasks import EKMAN

EMOTION_THRESHOLD = 0.3
"""A class is predicted when its probability reaches this (the GoEmotions paper's rule)."""
WRONG_ABOVE = 0.5
"""A row's truth is WRONG when its regret (share of WRONG votes) is above this."""


@dataclass(frozen=True)
class Statistic:
    """A metric as a function of per-row numbers summed over rows (weights = a resample)."""

    rows: np.ndarray
    """[N, k] float64 per-row numbers."""
    reduce: Callable[[np.ndarray, int], np.ndarray]
    """(sums [..., k], row count) -> metric [...] (or [..., classes] for per-class F1)."""

    def value(self) -> np.ndarray:
        """The metric on the full set, unweighted (tests compare it to sklearn's)."""
        return self.reduce(self.rows.sum(0), len(self.rows))


def _f1_from_counts(sums: np.ndarray, classes: int) -> np.ndarray:
    """Binary F1 per class from [..., 3 * classes] summed (tp, fp, fn); 0 where undefined
    (no true and no predicted row: sklearn's zero_division=0)."""
    tp, fp, fn = (sums[..., i * classes:(i + 1) * classes] for i in range(3))
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator, dtype=np.float64),
                     where=denominator > 0)


def _counts(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """[N, 3C] per-row tp, fp, fn of boolean indicator matrices [N, C]."""
    return np.concatenate([truth & pred, ~truth & pred, truth & ~pred], 1).astype(np.float64)


def _mean(sums: np.ndarray, n: int) -> np.ndarray:
    return sums[..., 0] / n


def _pearson(sums: np.ndarray, n: int) -> np.ndarray:
    """Pearson r from sums of (x, y, x², y², xy); NaN where either side is constant."""
    sx, sy, sxx, syy, sxy = (sums[..., i] for i in range(5))
    var_x, var_y = n * sxx - sx * sx, n * syy - sy * sy
    denominator = np.sqrt(np.clip(var_x, 0, None) * np.clip(var_y, 0, None))
    constant = (var_x <= 1e-12 * n * n) | (var_y <= 1e-12 * n * n)
    return np.where(constant, np.nan,
                    (n * sxy - sx * sy) / np.where(constant, 1.0, denominator))


def emotion_sets(targets: np.ndarray) -> np.ndarray:
    """[N, 7] bool: the true classes of each row, every class with a nonzero share."""
    return np.asarray(targets) > 0


def emotion_paper(truth: np.ndarray, probs: np.ndarray) -> tuple[dict[str, Any],
                                                                dict[str, Statistic]]:
    """Multi-label protocol: ({"macro_f1", "f1": {class: F1}}, statistics).

    `truth` is [N, 7] bool (see `emotion_sets`), `probs` [N, 7] probabilities.
    """
    from sklearn.metrics import f1_score

    pred = np.asarray(probs) >= EMOTION_THRESHOLD
    per_class = f1_score(truth, pred, average=None, labels=range(len(EKMAN)), zero_division=0)
    macro = f1_score(truth, pred, average="macro", labels=range(len(EKMAN)), zero_division=0)
    classes = len(EKMAN)
    counts = _counts(truth, pred)
    return ({"macro_f1": float(macro), "f1": dict(zip(EKMAN, map(float, per_class),
                                                        strict=True))},
            {"macro_f1": Statistic(counts, lambda s, n: _f1_from_counts(s, classes).mean(-1)),
             "f1": Statistic(counts, lambda s, n: _f1_from_counts(s, classes))})


def single_label_rows(truth: np.ndarray) -> np.ndarray:
    """[N] bool: rows with exactly one true Ekman class."""
    return truth.sum(1) == 1


def emotion_single(truth: np.ndarray, probs: np.ndarray) -> tuple[dict[str, Any],
                                                                 dict[str, Statistic]]:
    """Single-label protocol on the rows of `truth` with exactly one class (the caller
    selects them): accuracy and macro-F1 over all seven classes; prediction = argmax."""
    from sklearn.metrics import accuracy_score, f1_score

    classes = len(EKMAN)
    true_class = np.argmax(truth, 1)            # the only True of each row: no tie to break
    pred_class = np.argmax(np.asarray(probs), 1)
    accuracy = accuracy_score(true_class, pred_class)
    macro = f1_score(true_class, pred_class, labels=range(classes), average="macro",
                     zero_division=0)
    eye = np.eye(classes, dtype=bool)
    counts = _counts(eye[true_class], eye[pred_class])
    correct = (true_class == pred_class).astype(np.float64)[:, None]
    return ({"single_label_accuracy": float(accuracy), "single_label_macro_f1": float(macro)},
            {"single_label_accuracy": Statistic(correct, _mean),
             "single_label_macro_f1": Statistic(
                 counts, lambda s, n: _f1_from_counts(s, classes).mean(-1))})


def regret(truth: np.ndarray, estimate: np.ndarray, wrong: np.ndarray) -> tuple[
        dict[str, Any], dict[str, Statistic]]:
    """MAE and Pearson r of the regret estimate, F1 of the WRONG decision.

    The truth is WRONG when r > 0.5; `wrong` is the predictor's own decision
    (the model's calibrated threshold, the prior's mean > 0.5, the probe's
    probability > 0.5). Pearson r of a constant estimate is undefined: None.
    """
    from scipy.stats import pearsonr
    from sklearn.metrics import f1_score, mean_absolute_error

    truth = np.asarray(truth, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    true_wrong = truth > WRONG_ABOVE
    wrong = np.asarray(wrong, dtype=bool)
    constant = np.ptp(truth) == 0 or np.ptp(estimate) == 0
    pearson = None if constant else float(pearsonr(truth, estimate).statistic)
    values = {"mae": float(mean_absolute_error(truth, estimate)), "pearson": pearson,
              "binarized_f1": float(f1_score(true_wrong, wrong, zero_division=0))}
    moments = np.stack([truth, estimate, truth * truth, estimate * estimate, truth * estimate],
                       1)
    return values, {"mae": Statistic(np.abs(truth - estimate)[:, None], _mean),
                    "pearson": Statistic(moments, _pearson),
                    "binarized_f1": Statistic(_counts(true_wrong[:, None], wrong[:, None]),
                                              lambda s, n: _f1_from_counts(s, 1)[..., 0])}


def pairwise(less_ethical: np.ndarray, predicted: np.ndarray) -> tuple[dict[str, Any],
                                                                       dict[str, Statistic]]:
    """Share of dilemma pairs whose less-ethical action (0 first, 1 second) is predicted;
    `predicted` is -1 where a predictor cannot tell the two apart (counted wrong)."""
    from sklearn.metrics import accuracy_score

    correct = (np.asarray(less_ethical) == np.asarray(predicted)).astype(np.float64)
    return ({"pairwise_accuracy": float(accuracy_score(less_ethical, predicted))},
            {"pairwise_accuracy": Statistic(correct[:, None], _mean)})


def surd(truth: np.ndarray, shares: np.ndarray) -> tuple[dict[str, Any], dict[str, Statistic]]:
    """Mean squared error over every row and all four SURD shares."""
    from sklearn.metrics import mean_squared_error

    truth, shares = np.asarray(truth, dtype=np.float64), np.asarray(shares, dtype=np.float64)
    per_row = ((truth - shares) ** 2).mean(1)
    return ({"mse": float(mean_squared_error(truth, shares))},
            {"mse": Statistic(per_row[:, None], _mean)})
