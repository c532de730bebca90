"""SURD canonical cases (Martinez-Sanchez et al. 2024) and the per-anecdote target."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from redheart.analysis.surd import decompose
from redheart.data.targets import smoothed_votes, surd_target, vote_joint


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


def test_labels_are_smoothed_not_the_cells_no_vote_reaches():
    n = vote_joint(smoothed_votes({"AUTHOR": 1, "OTHER": 10, "EVERYBODY": 0, "NOBODY": 0,
                                   "INFO": 0}))
    assert n[0, 1, 0] == 1.5 and n[1, 0, 1] == 10.5 and n[2, 1, 1] == 0.5 and n[3, 0, 0] == 0.5
    assert (n[4] == 0.125).all()             # INFO's 1/2 spread over the four cells
    assert n[0, 0, 0] == n[0, 0, 1] == n[0, 1, 1] == 0   # AUTHOR implies (1, 0), nothing else
    assert n.sum() == pytest.approx(13.5)


def test_surd_target_computed_by_hand():
    """One vote per label: each label 1.5 after smoothing, so p(y) = 1/5 for all five.

    p(a, o) = 1/5 + 1/20 = 1/4 per cell, p(a) = p(o) = 1/2. In a cell, the
    label mapped there has p = 4/5 and INFO 1/5: leak = H(Y | A, O) = h(1/5)
    = log2 5 - 8/5 bits. For a fault label t, p(t | a) = p(t | o) = 2/5 and
    p(t | a, o) = 4/5: i_A = i_O = log2 2 = 1, i_AO = log2 4 = 2, so
    redundancy 1 (the minimum), unique 0, synergy 2 - 1 = 1. INFO gets 0
    from everything (p(INFO | x) = p(INFO)). Weighted by 1/5 over four
    labels: R = S = 4/5 bit; R + S + leak = log2 5 = H(Y).
    """
    shares = surd_target({"AUTHOR": 1, "OTHER": 1, "EVERYBODY": 1, "NOBODY": 1, "INFO": 1})
    h = math.log2(5)
    assert shares == pytest.approx((0.8 / h, 0.0, 0.8 / h, 1 - 1.6 / h), abs=1e-12)
    assert shares == pytest.approx((0.34454, 0.0, 0.34454, 0.31092), abs=1e-5)


def _surd_from_definitions(counts: dict[str, float]) -> tuple[float, float, float, float]:
    """SURD of (Y; A, O) for two sources, written from the paper's definitions, no numpy.

    Specific information i_s(t) = sum_x p(x | t) log2(p(t | x) / p(t)); per
    target state, redundancy is min(i_A, i_O), unique information the
    excess of the larger, synergy i_AO - max(i_A, i_O); each weighted by
    p(t). Leak = H(Y | A, O). All over H(Y).
    """
    fault = {"AUTHOR": [(1, 0)], "OTHER": [(0, 1)], "EVERYBODY": [(1, 1)], "NOBODY": [(0, 0)],
             "INFO": [(0, 0), (0, 1), (1, 0), (1, 1)]}
    p: dict[tuple[str, int, int], float] = {}
    total = sum(counts.values())
    for label, cells in fault.items():
        for a, o in cells:
            p[(label, a, o)] = p.get((label, a, o), 0.0) + counts[label] / len(cells) / total

    def marginal(keep) -> dict:
        out: dict = {}
        for key, value in p.items():
            out[keep(key)] = out.get(keep(key), 0.0) + value
        return out

    p_y = marginal(lambda k: k[0])
    views = {"A": lambda k: (k[0], k[1]), "O": lambda k: (k[0], k[2]),
             "AO": lambda k: (k[0], k[1], k[2])}
    entropy = -sum(v * math.log2(v) for v in p_y.values())
    r = u = s = 0.0
    for t, pt in p_y.items():
        info = {}
        for name, view in views.items():
            p_tx = marginal(view)
            p_x = marginal(lambda k, view=view: view(k)[1:])
            info[name] = sum(v / pt * math.log2((v / p_x[x[1:]]) / pt)
                             for x, v in p_tx.items() if x[0] == t and v > 0)
        r += pt * min(info["A"], info["O"])
        u += pt * (max(info["A"], info["O"]) - min(info["A"], info["O"]))
        s += pt * (info["AO"] - max(info["A"], info["O"]))
    p_x = marginal(lambda k: k[1:])
    leak = -sum(v * math.log2(v / p_x[k[1:]]) for k, v in p.items() if v > 0)
    return r / entropy, u / entropy, s / entropy, leak / entropy


def test_surd_target_of_a_real_anecdote_matches_the_definitions():
    votes = {"AUTHOR": 1, "OTHER": 10, "EVERYBODY": 0, "NOBODY": 0, "INFO": 0}  # 1st dev row
    expected = _surd_from_definitions({k: v + 0.5 for k, v in votes.items()})
    assert surd_target(votes) == pytest.approx(expected, abs=1e-12)
    assert sum(expected) == pytest.approx(1.0)


def test_leak_is_not_a_count_of_the_voters():
    few = {"AUTHOR": 10, "OTHER": 5, "EVERYBODY": 2, "NOBODY": 15, "INFO": 3}
    many = {label: 10 * count for label, count in few.items()}    # same split, 10x the votes
    a, b = surd_target(few), surd_target(many)
    assert abs(a[3] - b[3]) < 0.01           # smoothing every cell gave 0.57 against 0.27
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 0.03
