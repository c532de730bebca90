"""Names and order of every labelled output unit (torch-free, shared by data and model)."""

from __future__ import annotations

EKMAN = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
SENTIMENTS = ("positive", "negative", "ambiguous", "neutral")
N_FINE = 28
"""GoEmotions' 27 emotions plus neutral."""
CULTURAL = ("jeong", "han", "chemyeon")
BENTHAM_DIMS = ("intensity", "duration", "certainty", "propinquity", "fecundity", "purity",
                "extent")
ETHICS = ("utilitarian", "deontological", "virtue", "care")
REGRET_VIEWS = ("optimistic", "realistic", "pessimistic")
"""The views predict the 10%, 50% and 90% quantiles of regret, in that order."""
SURD = ("redundant", "unique", "synergistic", "leak")
