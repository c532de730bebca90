"""Per-task raw vectors and their decoding into named predictions.

Heads, analyzers and the Kalman filter all speak in one unconstrained "raw"
vector per task; fusion happens in that space (a convex blend of two valid
raw vectors is still valid), and only `decode` applies the constraints:
probabilities, ranges, the simplex, ordered quantiles.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from redheart.tasks import BENTHAM_DIMS, EKMAN, SURD

RAW_DIM = {"emotion": len(EKMAN), "bentham": len(BENTHAM_DIMS) + 1, "regret": 4,
           "surd": len(SURD)}


def decode(task: str, raw: torch.Tensor) -> dict[str, torch.Tensor]:
    """Named, constrained predictions of one task from its raw vector."""
    if task == "emotion":
        return {"emotion_logits": raw}
    if task == "bentham":
        dims = len(BENTHAM_DIMS)        # then one hedonic value (RAW_DIM)
        return {"bentham_dims": torch.sigmoid(raw[:, :dims]),
                "hedonic_value": torch.tanh(raw[:, dims])}
    if task == "regret":
        # Quantiles are ordered by construction: each is the previous plus a
        # softplus step in logit space, so q10 <= q50 <= q90 always holds.
        base, steps = raw[:, 1:2], F.softplus(raw[:, 2:4])
        view_logits = torch.cat([base, base + steps.cumsum(-1)], dim=-1)
        return {"regret": torch.sigmoid(raw[:, 0]), "regret_views": torch.sigmoid(view_logits)}
    if task == "surd":
        return {"surd": torch.softmax(raw.float(), dim=-1).to(raw.dtype)}
    raise KeyError(task)
