"""The task vocabulary: the four tasks, the targets each one learns, and every unit's name.

Data readers, the model's heads, the losses, `predict`, `export` and the
console all speak these names; they live here, torch-free, so that each of
those reads one definition and the console can import it without torch.
Adding a task starts here (README "Development").
"""

from __future__ import annotations

from dataclasses import dataclass

TASKS = ("emotion", "bentham", "regret", "surd")
"""Task order used everywhere a per-task list or tensor appears."""

EKMAN = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
SENTIMENTS = ("positive", "negative", "ambiguous", "neutral")
FINE_LABELS = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)
"""GoEmotions' label taxonomy (Demszky et al., ACL 2020): 27 emotions plus neutral.

The fine-label output of the emotion head has one unit per GoEmotions label
in this order, whatever file a row came from, so every source maps its own
ids onto these names.
"""
CULTURAL = ("jeong", "han", "chemyeon")
BENTHAM_DIMS = ("intensity", "duration", "certainty", "propinquity", "fecundity", "purity",
                "extent")
ETHICS = ("utilitarian", "deontological", "virtue", "care")
REGRET_VIEWS = ("optimistic", "realistic", "pessimistic")
"""The views predict the 10%, 50% and 90% quantiles of regret, in that order."""
SURD = ("redundant", "unique", "synergistic", "leak")

EKMAN_OF_FINE = {
    **{name: "anger" for name in ("anger", "annoyance", "disapproval")},
    "disgust": "disgust",
    **{name: "fear" for name in ("fear", "nervousness")},
    **{name: "joy" for name in ("joy", "amusement", "approval", "excitement", "gratitude",
                                "love", "optimism", "relief", "pride", "admiration", "desire",
                                "caring")},
    **{name: "sadness" for name in ("sadness", "disappointment", "embarrassment", "grief",
                                    "remorse")},
    **{name: "surprise" for name in ("surprise", "realization", "confusion", "curiosity")},
    "neutral": "neutral",
}

SENTIMENT_OF_EKMAN = {"anger": "negative", "disgust": "negative", "fear": "negative",
                      "sadness": "negative", "joy": "positive", "surprise": "ambiguous",
                      "neutral": "neutral"}
"""Exact at the Ekman level: every fine label of an Ekman group has the same
GoEmotions sentiment, so sentiment follows from the Ekman distribution."""


@dataclass(frozen=True)
class Target:
    """One supervised output: what the model, `predict` and a checkpoint call it, and
    which `Example` field labels it."""

    output: str
    """The output's name in the model's outputs, `predict --json` and trained rows."""
    field: str
    """The `Example` and `Batch` field carrying its labels."""
    task: str
    """The task whose loss it belongs to, one of TASKS."""
    labels: tuple[str, ...] | None = None
    """Names of its units in order; None for one number per text."""

    @property
    def width(self) -> int:
        """Units per text, 0 for a scalar."""
        return len(self.labels) if self.labels is not None else 0


TARGETS: tuple[Target, ...] = (
    Target("emotion", "emotion", "emotion", EKMAN),
    Target("sentiment", "sentiment", "emotion", SENTIMENTS),
    Target("fine", "fine", "emotion", FINE_LABELS),
    Target("cultural", "cultural", "emotion", CULTURAL),
    Target("bentham_dims", "bentham", "bentham", BENTHAM_DIMS),
    Target("hedonic_value", "hedonic", "bentham"),
    Target("regret", "regret", "regret"),
    Target("regret_views", "regret_views", "regret", REGRET_VIEWS),
    Target("surd", "surd", "surd", SURD),
)
"""Every user-facing output, in display order."""

if (set(EKMAN_OF_FINE) != set(FINE_LABELS) or set(SENTIMENT_OF_EKMAN) != set(EKMAN)
        or set(SENTIMENT_OF_EKMAN.values()) != set(SENTIMENTS)
        or {t.task for t in TARGETS} != set(TASKS)):   # checked at import, `python -O` too
    raise RuntimeError("redheart/tasks.py: a mapping or a target names a label or task that "
                       "the vocabulary does not list")
