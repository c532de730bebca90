"""Paired noise: break the symmetry of the copies without changing the function.

Right after cloning, the k copies of every hidden unit get identical
gradients and would stay copies forever. For every weight that reads a
cloned input, the copies' columns [W/k, ..., W/k] get noise N_1..N_k that
sums to zero over the copies (for k = 2: +N and -N). Since the input copies
are equal, sum_i (W/k + N_i) x = W x: the function is exactly the same, but
each copy now sees a different gradient. N is drawn for every output row,
so output copies also get different weights.
"""

from __future__ import annotations

import re

import torch

from redheart.model.grow.layout import DimRule, Layout, copy_slices

NOISE_FREE = (re.compile(r"emotion_head\.moe\.router\.weight"),)
"""Weights left without noise. The router's top-k is a discontinuous choice: its
logits stay equal only up to fp32 rounding, which could flip a near-tie between
experts. It has no cloned outputs whose symmetry noise would break, and the
copies of its input diverge through the experts that read them too."""


def noise_std(block: torch.Tensor, snr_db: float) -> float:
    """std of the (already divided) weight block times 10^(-snr_db / 20)."""
    return float(block.float().std(unbiased=False)) * 10.0 ** (-snr_db / 20.0)


def add_paired_noise(key: str, tensor: torch.Tensor, rules: tuple[DimRule, ...],
                     layouts: tuple[Layout, ...], copies: int, snr_db: float,
                     generator: torch.Generator) -> torch.Tensor:
    """The grown tensor with zero-sum noise over the copies of each contracted cloned segment."""
    if any(pattern.fullmatch(key) for pattern in NOISE_FREE):
        return tensor
    for dim, (rule, layout) in enumerate(zip(rules, layouts, strict=True)):
        if not rule.contracted:
            continue
        for slices in copy_slices(layout, copies):
            first = tensor.narrow(dim, slices[0].start, slices[0].stop - slices[0].start)
            std = noise_std(first, snr_db)
            if std == 0.0:
                continue
            draws = torch.randn((copies, *first.shape), generator=generator,
                                dtype=torch.float32)
            # Centred over the copies (so they sum to zero), rescaled to unit variance.
            draws = (draws - draws.mean(0, keepdim=True)) * (copies / (copies - 1)) ** 0.5
            for draw, part in zip(draws, slices, strict=True):
                tensor.narrow(dim, part.start, part.stop - part.start).add_(
                    (draw * std).to(tensor.device, tensor.dtype))
    return tensor
