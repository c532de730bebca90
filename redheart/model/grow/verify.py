"""Exactness check: max |delta| of every output between the small and the grown model."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from redheart.model.unified import UnifiedModel

TOLERANCE = 1e-4
"""The largest |delta| `redheart grow --verify` accepts (fp32, dropout off)."""


@torch.no_grad()
def output_deltas(small: UnifiedModel, grown: UnifiedModel,
                  batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """{output key: max |small - grown|} over the batches, both models in fp32 and eval mode.

    Eval mode turns dropout off, which would otherwise draw different masks
    for the two widths; fp32 keeps rounding far below the tolerance.
    """
    small, grown = small.float().eval(), grown.float().eval()
    deltas: dict[str, float] = {}
    for states, mask in batches:
        a, b = small(states.float(), mask), grown(states.float(), mask)
        if set(a) != set(b):
            raise AssertionError(f"output keys differ: {sorted(set(a) ^ set(b))}")
        for key in a:
            delta = float((a[key].float() - b[key].float()).abs().max())
            deltas[key] = max(deltas.get(key, 0.0), delta)
    return deltas
