"""SURD canonical cases (Martinez-Sanchez et al. 2024) and the per-anecdote target."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from redheart.analysis.surd import decompose
from redheart.data.targets import surd_target, vote_joint


def joint(rule, n_sources: int = 2) -> np.ndarray:
    """Uniform binary sources; target = rule(*sources)."""
    p = np.zeros((2,) + (2,) * n_sources)
    for xs in itertools.product((0, 1), repeat=n_sources):
        p[(rule(*xs), *xs)] += 1.0
    return p / p.sum()


def assert_budget(result) -> None:
    total = result.redundant + result.unique + result.synergistic + result.leak
    assert total == pytest.approx(result.entropy, abs=1e-9)


def test_xor_is_pure_synergy():
    r = decompose(joint(lambda a, b: a ^ b))
    assert r.synergistic == pytest.approx(1.0)
    assert r.redundant == pytest.approx(0.0) and r.unique == pytest.approx(0.0)
    assert r.leak == pytest.approx(0.0) and r.entropy == pytest.approx(1.0)
    assert_budget(r)


def test_copies_are_pure_redundancy():
    p = np.zeros((2, 2, 2))
    p[0, 0, 0] = p[1, 1, 1] = 0.5          # Y = X1 = X2
    r = decompose(p)
    assert r.redundant == pytest.approx(1.0)
    assert r.unique == pytest.approx(0.0) and r.synergistic == pytest.approx(0.0)
    assert_budget(r)


def test_one_informative_source_is_pure_unique():
    r = decompose(joint(lambda a, b: a))    # Y = X1, X2 independent noise
    assert r.unique == pytest.approx(1.0)
    assert r.unique_by_source == pytest.approx({1: 1.0, 2: 0.0})
    assert r.redundant == pytest.approx(0.0) and r.synergistic == pytest.approx(0.0)
    assert_budget(r)


def test_noise_target_is_pure_leak():
    p = np.full((2, 2, 2), 1 / 8)            # Y independent of both
    r = decompose(p)
    assert r.leak == pytest.approx(1.0)
    assert r.redundant + r.unique + r.synergistic == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("shape", [(3, 2, 4), (5, 2, 2), (2, 3, 3, 2)])
def test_budget_holds_for_any_distribution(shape):
    p = np.arange(1, np.prod(shape) + 1, dtype=float).reshape(shape) ** 1.7 % 7 + 0.1
    assert_budget(decompose(p))


def test_bad_distribution_is_refused():
    with pytest.raises(ValueError):
        decompose(np.array([0.5, 0.5]))
    with pytest.raises(ValueError):
        decompose(-np.ones((2, 2)))


def test_vote_joint_follows_design_table():
    n = vote_joint({"AUTHOR": 2, "OTHER": 3, "EVERYBODY": 1, "NOBODY": 4, "INFO": 4})
    assert n[0, 1, 0] == 2 and n[1, 0, 1] == 3 and n[2, 1, 1] == 1 and n[3, 0, 0] == 4
    assert (n[4] == 1.0).all()               # INFO spread uniformly over (a, o)
    assert n.sum() == 14


def test_anecdote_target_is_on_the_simplex_and_symmetric():
    author = surd_target({"AUTHOR": 20, "OTHER": 0, "EVERYBODY": 0, "NOBODY": 0, "INFO": 0})
    other = surd_target({"AUTHOR": 0, "OTHER": 20, "EVERYBODY": 0, "NOBODY": 0, "INFO": 0})
    assert sum(author) == pytest.approx(1.0) and min(author) >= 0
    assert author == pytest.approx(other)    # A and O play symmetric roles
    split = surd_target({"AUTHOR": 10, "OTHER": 10, "EVERYBODY": 0, "NOBODY": 0, "INFO": 0})
    assert split[3] < author[3]              # a split vote is better explained: less leak
