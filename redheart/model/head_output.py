"""The value every head returns, shared by analyzers and fusion."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class HeadOutput:
    """What every head hands on: its raw task vector and hidden state."""

    raw: torch.Tensor
    """[B, RAW_DIM[task]] unconstrained prediction (see decode.py)."""
    hidden: torch.Tensor
    """[B, d_model] representation the analyzer and fusion build on."""
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    """Head-only outputs (hierarchy levels, gates, auxiliary losses)."""
