"""GoEmotions' label taxonomy (Demszky et al., ACL 2020) as the model's fixed order.

The fine-label output of the emotion head has one unit per GoEmotions label
in this order, whatever file a row came from, so every source maps its own
ids onto these names.
"""

from __future__ import annotations

from redheart.model.labels import EKMAN, SENTIMENTS

FINE_LABELS = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)

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

assert set(EKMAN_OF_FINE) == set(FINE_LABELS)
assert set(SENTIMENT_OF_EKMAN) == set(EKMAN) and set(SENTIMENT_OF_EKMAN.values()) == set(SENTIMENTS)
