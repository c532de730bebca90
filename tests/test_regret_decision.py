"""The regret decision threshold: fitted to maximise WRONG F1 on training rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from redheart.train.regret_decision import best_threshold, decision_threshold


def test_threshold_is_the_cut_with_the_best_f1_computed_by_hand():
    # WRONG rows score 0.40 and 0.30, RIGHT rows 0.35, 0.20, 0.10. Cuts: top 1 -> F1 2/3,
    # top 2 -> 1/2, top 3 -> 4/5, top 4 -> 2/3, all 5 -> 4/7: the best is between 0.30 and
    # 0.20, so 0.25, where 0.5 would call nothing WRONG (F1 0).
    predicted = np.array([0.10, 0.40, 0.20, 0.35, 0.30])
    wrong = np.array([False, True, False, False, True])
    threshold = best_threshold(predicted, wrong)
    assert threshold == pytest.approx(0.25)
    assert f1_score(wrong, predicted > threshold) == pytest.approx(0.8)
    assert f1_score(wrong, predicted > 0.5, zero_division=0) == 0.0


def test_the_threshold_beats_or_ties_every_other_cut_on_random_scores():
    rng = np.random.default_rng(3)
    wrong = rng.random(300) < 0.3
    predicted = np.round(0.2 * wrong + 0.5 * rng.random(300), 2)   # ties included
    threshold = best_threshold(predicted, wrong)
    best = f1_score(wrong, predicted > threshold)
    for cut in np.unique(predicted):
        assert f1_score(wrong, predicted > cut, zero_division=0) <= best + 1e-12


def test_no_threshold_without_both_classes_and_the_default_is_the_targets_own():
    assert best_threshold(np.array([0.2, 0.7]), np.array([False, False])) is None
    assert decision_threshold({}) == 0.5 and decision_threshold(None) == 0.5
    assert decision_threshold({"regret_threshold": 0.31}) == 0.31
