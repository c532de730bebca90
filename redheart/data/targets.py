"""Task targets derived from annotation counts (architecture.md §7).

Everything here is a pure function of the votes a data set publishes, so a
target is exactly reproducible from its row and never invented.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from redheart.analysis.surd import decompose

VOTE_LABELS = ("AUTHOR", "OTHER", "EVERYBODY", "NOBODY", "INFO")
# (author at fault, other at fault) implied by each vote; INFO implies nothing.
_FAULT = {"AUTHOR": (1, 0), "OTHER": (0, 1), "EVERYBODY": (1, 1), "NOBODY": (0, 0)}


def right_wrong(votes: Mapping[str, int]) -> tuple[int, int]:
    """Scruples' binarisation: RIGHT = OTHER + NOBODY, WRONG = AUTHOR + EVERYBODY."""
    return votes["OTHER"] + votes["NOBODY"], votes["AUTHOR"] + votes["EVERYBODY"]


def regret(right: int, wrong: int) -> float:
    """Share of judges who found the author in the wrong: WRONG / (RIGHT + WRONG)."""
    return wrong / (right + wrong)


def regret_views(right: int, wrong: int) -> tuple[float, float, float]:
    """10/50/90% quantiles of Beta(WRONG + 1, RIGHT + 1): optimistic, realistic, pessimistic.

    The posterior of the wrong-vote rate under a uniform prior: few votes give
    wide views, many votes narrow ones around the observed share.
    """
    # Imported here: scipy.stats takes half a second to import, and only reading Scruples
    # votes needs it (once; the example store keeps the result), not every command that
    # imports the data sources.
    from scipy.stats import beta

    q = beta.ppf([0.1, 0.5, 0.9], wrong + 1, right + 1)
    return float(q[0]), float(q[1]), float(q[2])


def hedonic_value(right: int, wrong: int) -> float:
    """(RIGHT - WRONG) / (RIGHT + WRONG) in [-1, 1]."""
    return (right - wrong) / (right + wrong)


def vote_joint(votes: Mapping[str, int | float]) -> np.ndarray:
    """Counts n[y, a, o] of (vote label, author at fault, other at fault) samples.

    Each vote is one sample. An INFO vote says nothing about fault, so its
    (a, o) is uniform: it adds 1/4 to each of the four cells, the exact
    expectation of sampling them at random (and deterministic).
    """
    joint = np.zeros((len(VOTE_LABELS), 2, 2))
    for y, label in enumerate(VOTE_LABELS):
        count = votes.get(label, 0)
        if label == "INFO":
            joint[y] += count / 4.0
        else:
            a, o = _FAULT[label]
            joint[y, a, o] += count
    return joint


LABEL_SMOOTHING = 0.5
"""Pseudo-votes added to each of the five labels before the (A, O) mapping (architecture.md §7)."""


def smoothed_votes(votes: Mapping[str, int | float]) -> dict[str, float]:
    """Vote counts plus 1/2 per label (INFO included): a handful of votes is a small sample.

    The smoothing is on the labels, the only place with uncertainty. The
    (A, O) cells a label maps to are fixed by `_FAULT`, so smoothing
    them too would put mass on combinations no vote implies (an AUTHOR vote
    with the other at fault), and that mass, which shrinks as votes grow,
    would make the leak share mostly a count of the voters.
    """
    return {label: votes.get(label, 0) + LABEL_SMOOTHING for label in VOTE_LABELS}


def surd_target(votes: Mapping[str, int | float]) -> tuple[float, float, float, float]:
    """(redundant, unique, synergistic, leak) shares of H(vote) for one anecdote
    (architecture.md §7).

    Smooth the five label counts, map them to (A, O) cells (INFO spread
    uniformly), decompose H(Y) and normalise by H(Y). With two sources the
    pair's specific information is never below a single source's, so
    R + U + S + leak = H(Y) exactly and the shares are those over H(Y).
    """
    return decompose(vote_joint(smoothed_votes(votes))).shares()
