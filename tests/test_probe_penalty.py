"""The probes' penalties are picked on their own training rows (`probe_penalty.py`).

The pick is checked against scikit-learn's own `log_loss` and
`mean_squared_error` on the same held fifth, on constructed rows where one
feature carries the label and many carry nothing, so a weak penalty
overfits and the pick is not a tie.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redheart.data.example import Example
from redheart.train import baselines
from redheart.train.probe_penalty import (
    LOGISTIC_C,
    MIN_HELD_ROWS,
    RIDGE_ALPHA,
    Penalty,
    held_rows,
    pick,
)


def _rows(count: int = 160, noise: int = 60, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Feature 0 decides the label 70% of the time; `noise` more features are chance."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, count)
    signal = np.where(rng.random(count) < 0.7, y, 1 - y) + rng.normal(0, 0.3, count)
    return np.column_stack([signal, rng.normal(size=(count, noise))]), y


def test_the_held_fifth_is_fixed_and_a_fifth():
    held = held_rows(100)
    assert held.sum() == 20 and held.tolist() == held_rows(100).tolist()
    assert held_rows(100, seed=1).tolist() != held.tolist()


def test_pick_keeps_the_lowest_loss_and_the_default_when_it_cannot_judge():
    held = held_rows(200)
    losses = {0.001: 0.9, 0.01: 0.4, 0.1: 0.5, 1.0: 0.7}
    assert pick("C", LOGISTIC_C, 1.0, held, losses.__getitem__) == Penalty("C", 0.01, 40)
    few = held_rows(5 * (MIN_HELD_ROWS - 1))
    assert pick("C", LOGISTIC_C, 1.0, few, losses.__getitem__) == Penalty("C", 1.0, 0)
    assert pick("C", LOGISTIC_C, 1.0, held, lambda c: None) == Penalty("C", 1.0, 0)
    assert Penalty("alpha", 10.0, 40).as_json() == {"alpha": 10.0, "judged_on": 40}


def test_the_logistic_probe_picks_the_c_with_sklearns_lowest_held_log_loss():
    x, y = _rows()
    _, chosen = baselines._fitted_logistic(x, y)
    held = held_rows(len(y))
    losses = []
    for c in LOGISTIC_C:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500,
                                                                   random_state=0))
        model.fit(x[~held], y[~held])
        losses.append(log_loss(y[held], model.predict_proba(x[held]), labels=[0, 1]))
    assert chosen == Penalty("C", LOGISTIC_C[int(np.argmin(losses))], int(held.sum()))
    assert chosen.value < 1.0            # 60 chance features: C = 1 overfits 128 rows
    assert min(losses) < losses[-1] - 0.05


def test_the_emotion_probe_is_judged_on_rows(monkeypatch):
    x, y = _rows(count=120)
    group = np.repeat(np.arange(60), 2)
    seen = []

    def spy(name, candidates, default, held, loss):
        seen.append(held)
        return Penalty(name, default, 0)

    monkeypatch.setattr(baselines, "pick", spy)
    baselines._fitted_logistic(x, y, np.full(len(y), 0.5), group=group)
    assert seen[0].tolist() == held_rows(60).tolist()        # judged on rows, not samples


def test_a_rows_samples_are_held_out_together(monkeypatch):
    """The emotion probe has one sample per true class of a row: a held row holds all of
    them out, or the penalty would be judged on rows it was fitted on."""
    x, y = _rows(count=200)
    group = np.repeat(np.arange(100), 2)
    fitted_on = []
    original = baselines._logistic

    def recording(c):
        model = original(c)
        fit = model.fit

        def remember(features, labels, **kwargs):
            rows = group[np.isin(x[:, 0], features[:, 0])]
            fitted_on.append((len(labels), len(set(rows.tolist()))))
            return fit(features, labels, **kwargs)
        model.fit = remember
        return model

    monkeypatch.setattr(baselines, "_logistic", recording)
    _, chosen = baselines._fitted_logistic(x, y, np.full(len(y), 0.5), group=group)
    assert chosen.judged_on == 20                             # a fifth of 100 rows
    assert fitted_on[:-1] == [(160, 80)] * len(LOGISTIC_C)    # 80 whole rows, 2 samples each
    assert fitted_on[-1] == (200, 100)                        # then every sample


def test_the_ridge_probe_picks_the_alpha_with_sklearns_lowest_held_error(monkeypatch):
    x, label = _rows(count=150, noise=80)
    y = np.column_stack([label, 1 - label, label, 1 - label]) * 0.5 + 0.25

    class Rows:     # what _pooled reads: a text's cached token states
        def get(self, text: str) -> np.ndarray:
            return x[int(text)][None, :]

    train = [Example(str(i), "t", surd=tuple(y[i])) for i in range(len(y))]
    _, chosen = baselines._surd_probe(Rows(), train, ["0"])
    held = held_rows(len(y))
    errors = [mean_squared_error(y[held], make_pipeline(StandardScaler(), Ridge(alpha=a))
                                 .fit(x[~held], y[~held]).predict(x[held]))
              for a in RIDGE_ALPHA]
    assert chosen == Penalty("alpha", RIDGE_ALPHA[int(np.argmin(errors))], int(held.sum()))
    assert chosen.value > 1.0
    assert min(errors) < errors[0] * 0.99
