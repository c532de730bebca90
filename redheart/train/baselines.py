"""The two baselines of `redheart validate`, fitted on the training split only.

- The prior says what knowing nothing about the text gets: the training
  rows' majority emotion class, their mean regret (and the WRONG decision
  fitted on them like the model's: every row), the side that is more often
  the less ethical one in the training pairs, their mean SURD shares.
- The probe says what the frozen encoder alone gets: linear models on the
  mean-pooled cached token states (logistic regression for emotion, WRONG
  and the pair's less-ethical side, ridge regression for SURD shares), each
  with its penalty picked on its own training rows (`probe_penalty.py`).

A trained model that does not beat both has learned nothing worth its size.
Probes are fitted on every training row up to `PROBE_MAX_ROWS` per task,
beyond that on a fixed-seed sample; `ProbeRows` records how many were used.
A probe fitted on fewer rows than it could use would be a weaker baseline
than the data allow (on GoEmotions, 8,000 rows give a macro-F1 of 0.42 where
all 43k give 0.48), so the cap is far above the public sets.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from redheart.data.encode import SourceFeaturizers
from redheart.data.example import DilemmaPair, Example
from redheart.data.sources import SourceData
from redheart.tasks import EKMAN
from redheart.train.eval_set import EvalSet, Predictions
from redheart.train.metrics import WRONG_ABOVE, emotion_sets
from redheart.train.probe_penalty import LOGISTIC_C, RIDGE_ALPHA, Penalty, held_rows, pick
from redheart.train.regret_decision import DEFAULT_THRESHOLD, best_threshold

PROBE_MAX_ROWS = 50_000
"""Training rows a probe is fitted on at most. Picking its penalty fits each probe five
times; on cpu-real's full training split (43k GoEmotions, 24k Scruples rows) `validate`
took 5 min 28 s with the picks against 5 min 1 s without, the two run side by side on 2
cores. The cap keeps a much larger data set within a few minutes."""
PROBE_SEED = 0


@dataclass(frozen=True)
class ProbeRows:
    """How many training rows one probe was fitted on, of how many there are."""

    used: int
    of: int

    def as_json(self) -> dict[str, int]:
        return {"used": self.used, "of": self.of}


def prior(train: list[SourceData], rows: EvalSet) -> Predictions:
    """Constant predictions from the training rows (None for a task they do not label)."""
    emotion = [e.emotion for s in train for e in s.examples if e.emotion is not None]
    regret = [e.regret for s in train for e in s.examples if e.regret is not None]
    surd = [e.surd for s in train for e in s.examples if e.surd is not None]
    sides = [p.less_ethical for s in train for p in s.pairs]
    out = Predictions()
    if emotion and rows.emotion:
        # The class that is a true label of the most training rows, predicted alone.
        majority = int(np.argmax(emotion_sets(emotion).sum(0)))
        out.emotion = np.tile(np.eye(len(EKMAN))[majority], (len(rows.emotion), 1))
    if regret and rows.regret:
        mean = float(np.mean(regret))
        out.regret = np.full(len(rows.regret), mean)
        out.wrong = np.full(len(rows.regret), _prior_says_wrong(np.asarray(regret), mean))
    if sides and rows.less_ethical:
        # The side more often less ethical in training (first on a tie).
        majority_side = int(sum(sides) * 2 > len(sides))
        out.less_ethical = np.full(len(rows.less_ethical), majority_side)
    if surd and rows.surd:
        out.surd = np.tile(np.mean(surd, 0), (len(rows.surd), 1))
    return out


def _prior_says_wrong(regret: np.ndarray, mean: float) -> bool:
    """The prior's WRONG decision, fitted on the training rows as the model's and the
    probe's are (the threshold that maximises F1 of WRONG there).

    A constant estimate admits two decisions: WRONG for every row or for none.
    With any WRONG training row, "every row" has the higher F1 (2p / (1 + p) at
    WRONG share p, about 0.36 on Scruples), and that is what a model with a
    fitted threshold must beat; "never WRONG" would give F1 0 and flatter it.
    Without a WRONG training row there is nothing to fit: the target's own
    0.5 rule decides.
    """
    threshold = best_threshold(np.full(len(regret), mean), regret > WRONG_ABOVE)
    return mean > (WRONG_ABOVE if threshold is None else threshold)


def _subsample(count: int) -> np.ndarray:
    """Indices of at most PROBE_MAX_ROWS of `count` training rows, sorted, fixed seed."""
    if count <= PROBE_MAX_ROWS:
        return np.arange(count)
    return np.sort(np.random.default_rng(PROBE_SEED).choice(count, PROBE_MAX_ROWS,
                                                            replace=False))


def _quiet_fit(fit: Callable[[], object]) -> object:
    """Convergence warnings of a baseline are not the user's problem: max_iter bounds it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit()


def _pooled(cache: SourceFeaturizers, texts: list[str]) -> np.ndarray:
    """[N, hidden] mean-pooled frozen-encoder states (the probe's scaler standardises them)."""
    return np.stack([np.asarray(cache.get(t), dtype=np.float32).mean(0)
                     for t in texts]).astype(np.float64)


def _logistic(c: float) -> Any:
    """Standardised features, then logistic regression (multinomial for several classes)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500,
                                                              random_state=PROBE_SEED))


def _log_loss(probability_of_truth: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Mean negative log-likelihood of the true labels (weighted), clipped like sklearn's."""
    return float(np.average(-np.log(np.clip(probability_of_truth, 1e-15, 1.0)), weights=weight))


def _fitted_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None,
                     group: np.ndarray | None = None) -> tuple[Any, Penalty]:
    """Logistic regression with its C picked on a held fifth of the training rows.

    `group` names the training row each sample comes from (the emotion probe
    has a sample per true class): a row's samples are held out together.
    """
    group = np.arange(len(y)) if group is None else group
    held_row = held_rows(int(group.max()) + 1 if len(group) else 0)
    held = held_row[group]

    def loss(c: float) -> float | None:
        if len(np.unique(y[~held])) < 2:
            return None
        model = _logistic(c)
        _quiet_fit(lambda: model.fit(x[~held], y[~held], **_weights(weight, ~held)))
        probs = model.predict_proba(x[held])
        column = {label: i for i, label in enumerate(model.classes_)}
        truth = np.asarray([probs[i, column[label]] if label in column else 0.0
                            for i, label in enumerate(y[held])])
        return _log_loss(truth, None if weight is None else weight[held])

    penalty = pick("C", LOGISTIC_C, 1.0, held_row, loss)
    model = _logistic(penalty.value)
    _quiet_fit(lambda: model.fit(x, y, **_weights(weight, slice(None))))
    return model, penalty


def _weights(weight: np.ndarray | None, rows: Any) -> dict[str, np.ndarray]:
    return {} if weight is None else {"logisticregression__sample_weight": weight[rows]}


def _emotion_probe(cache: SourceFeaturizers, train: list[Example],
                   texts: list[str]) -> tuple[np.ndarray, Penalty]:
    """[N, 7] probabilities from one sample per true class, weighted by its share: the
    soft target, not an argmax."""
    x = _pooled(cache, [e.text for e in train])
    shares = np.asarray([e.emotion for e in train])
    row, cls = np.nonzero(shares > 0)
    model, penalty = _fitted_logistic(x[row], cls, shares[row, cls], group=row)
    probs = np.zeros((len(texts), len(EKMAN)))
    probs[:, model.classes_] = model.predict_proba(_pooled(cache, texts))
    return probs, penalty


def _regret_probe(cache: SourceFeaturizers, train: list[Example],
                  texts: list[str]) -> tuple[np.ndarray, float, Penalty] | None:
    """P(WRONG) per text from logistic regression on r > 0.5, its WRONG threshold and C.

    The threshold is fitted on the probe's own training rows exactly as the
    trainer fits the model's (best F1 of WRONG), so the decision F1 compares
    the two on the same footing. None without both classes.
    """
    wrong = np.asarray([e.regret > WRONG_ABOVE for e in train])
    if not 0 < wrong.sum() < len(wrong):
        return None
    features = _pooled(cache, [e.text for e in train])
    model, penalty = _fitted_logistic(features, wrong)
    fitted = best_threshold(model.predict_proba(features)[:, 1], wrong)
    return (model.predict_proba(_pooled(cache, texts))[:, 1],
            DEFAULT_THRESHOLD if fitted is None else fitted, penalty)


def _pairs_probe(cache: SourceFeaturizers, train: list[DilemmaPair],
                 pairs: list[tuple[str, str]]) -> tuple[np.ndarray, Penalty] | None:
    """The predicted less-ethical side from logistic regression on the difference of the two
    actions' features; None without both sides in training."""
    side = np.asarray([p.less_ethical for p in train])
    if not 0 < side.sum() < len(side):
        return None

    def difference(texts: list[tuple[str, str]]) -> np.ndarray:
        return _pooled(cache, [a for a, _ in texts]) - _pooled(cache, [b for _, b in texts])

    model, penalty = _fitted_logistic(difference([(p.first, p.second) for p in train]), side)
    return model.predict(difference(pairs)).astype(int), penalty


def _ridge(alpha: float) -> Any:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), Ridge(alpha=alpha, random_state=PROBE_SEED))


def _surd_probe(cache: SourceFeaturizers, train: list[Example],
                texts: list[str]) -> tuple[np.ndarray, Penalty]:
    """[K, 4] shares from ridge regression (alpha picked on a held fifth of the training
    rows), clipped at 0 and put back onto the simplex."""
    x, y = _pooled(cache, [e.text for e in train]), np.asarray([e.surd for e in train])
    held = held_rows(len(y))

    def loss(alpha: float) -> float:
        predicted = _ridge(alpha).fit(x[~held], y[~held]).predict(x[held])
        return float(np.mean((predicted - y[held]) ** 2))

    penalty = pick("alpha", RIDGE_ALPHA, 1.0, held, loss)
    shares = np.clip(_ridge(penalty.value).fit(x, y).predict(_pooled(cache, texts)), 0, None)
    total = shares.sum(1, keepdims=True)
    # A row clipped to all zeros knows nothing: uniform.
    return np.where(total > 0, shares / np.where(total > 0, total, 1.0), 0.25), penalty


def probe(train: list[SourceData], rows: EvalSet, cache: SourceFeaturizers
          ) -> tuple[Predictions, dict[str, ProbeRows], dict[str, Penalty]]:
    """Linear probes on frozen features, one per task with training rows; with the rows
    each was fitted on and the penalty it picked."""
    examples = [e for s in train if not s.pairs for e in s.examples]
    out, used, penalties = Predictions(), {}, {}

    def sample(items: list) -> list:
        return [items[i] for i in _subsample(len(items))]

    emotion = [e for e in examples if e.emotion is not None]
    if emotion and rows.emotion:
        taken = sample(emotion)
        out.emotion, penalties["emotion"] = _emotion_probe(cache, taken, rows.texts["emotion"])
        used["emotion"] = ProbeRows(len(taken), len(emotion))
    regret = [e for e in examples if e.regret is not None]
    if regret and rows.regret:
        taken = sample(regret)
        fitted = _regret_probe(cache, taken, rows.texts["regret"])
        if fitted is not None:
            out.regret, out.wrong_threshold, penalties["regret"] = fitted
            out.wrong = out.regret > out.wrong_threshold
            used["regret"] = ProbeRows(len(taken), len(regret))
    pairs = [p for s in train for p in s.pairs]
    if pairs and rows.less_ethical:
        taken = sample(pairs)
        fitted_pairs = _pairs_probe(cache, taken, rows.texts["pairs"])
        if fitted_pairs is not None:
            out.less_ethical, penalties["bentham"] = fitted_pairs
            used["bentham"] = ProbeRows(len(taken), len(pairs))
    surd = [e for e in examples if e.surd is not None]
    if surd and rows.surd:
        taken = sample(surd)
        out.surd, penalties["surd"] = _surd_probe(cache, taken, rows.texts["surd"])
        used["surd"] = ProbeRows(len(taken), len(surd))
    return out, used, penalties
