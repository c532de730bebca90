"""Learning-rate schedule: linear warmup, then cosine annealing to eta_min."""

from __future__ import annotations

import math


def learning_rate(step: int, peak: float, warmup: int, total: int, eta_min: float) -> float:
    """LR for optimizer step `step` (0-based); a pure function, so resuming needs only the step."""
    if warmup and step < warmup:
        return peak * (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return eta_min + 0.5 * (peak - eta_min) * (1.0 + math.cos(math.pi * progress))
