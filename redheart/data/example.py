"""Canonical training examples: text plus whichever targets its source gives.

A target a row does not carry is None, and becomes a zero mask in the batch:
missing labels are masked, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass

from redheart.tasks import EKMAN, SENTIMENT_OF_EKMAN, SENTIMENTS

Vector = tuple[float, ...]


@dataclass(frozen=True)
class Example:
    """One text and its targets (architecture.md §7 derives each)."""

    text: str
    origin: str
    """`path:line` of the row, for messages."""
    emotion: Vector | None = None
    """7-way Ekman distribution, EKMAN order."""
    sentiment: Vector | None = None
    """4-way sentiment distribution, SENTIMENTS order."""
    fine: Vector | None = None
    """28 GoEmotions labels, multi-hot, FINE_LABELS order."""
    cultural: Vector | None = None
    """jeong, han, chemyeon in [0, 1]."""
    bentham: Vector | None = None
    """7 hedonic-calculus dimensions in [0, 1], BENTHAM_DIMS order."""
    hedonic: float | None = None
    """Hedonic value in [-1, 1]."""
    regret: float | None = None
    """Regret in [0, 1]."""
    regret_views: Vector | None = None
    """10/50/90% quantiles of regret, ascending."""
    surd: Vector | None = None
    """(redundant, unique, synergistic, leak) shares, summing to 1."""
    votes: int | None = None
    """Annotator votes behind the vote-derived targets (Scruples; not a target): lets
    `data stats` show whether a target merely tracks how many people voted."""


@dataclass(frozen=True)
class DilemmaPair:
    """Two actions; annotators judged which is the less ethical (Bradley-Terry target)."""

    first: str
    second: str
    less_ethical: int
    """0 or 1: the action with the lower hedonic value."""
    annotations: tuple[int, int]
    """Annotators who judged each action the less ethical one."""
    origin: str


def sentiment_of(emotion: Vector) -> Vector:
    """Sentiment distribution implied by an Ekman distribution (exact in GoEmotions)."""
    out = dict.fromkeys(SENTIMENTS, 0.0)
    for name, weight in zip(EKMAN, emotion, strict=True):
        out[SENTIMENT_OF_EKMAN[name]] += weight
    return tuple(out[name] for name in SENTIMENTS)
