"""Analyzers: deeper per-task networks that refine their head's prediction."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from redheart.model.decode import RAW_DIM
from redheart.model.head_output import HeadOutput
from redheart.model.layers import ResidualBlock


@dataclass
class AnalyzerOutput:
    """The analyzer's own prediction and its gated fusion with the head's."""

    raw: torch.Tensor
    """[B, RAW_DIM] the analyzer's prediction, supervised on its own (deep supervision)."""
    fused: torch.Tensor | None
    """[B, RAW_DIM] head + gate * (analyzer - head), the task's final raw output;
    None when another module (the Kalman filter) does the fusion."""
    hidden: torch.Tensor
    """[B, d_model] last residual state, used by the Kalman filter."""


class Analyzer(nn.Module):
    """A stack of residual blocks reading the task vector and the head's view.

    It sees the task vector, the head's hidden state and raw prediction (and
    extra context such as DSP features), so it can learn a correction rather
    than start over. A per-output gate decides how much of the correction to
    trust, so a weak analyzer early in training cannot spoil the head. With
    `gated=False` the gate is not built: the caller fuses (Kalman filter).
    """

    def __init__(self, task: str, d: int, hidden: int, blocks: int, dropout: float,
                 extra_dim: int = 0, gated: bool = True) -> None:
        super().__init__()
        out_dim = RAW_DIM[task]
        self.inp = nn.Linear(2 * d + out_dim + extra_dim, d)
        self.blocks = nn.ModuleList(ResidualBlock(d, hidden, dropout, depth=blocks)
                                    for _ in range(blocks))
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, out_dim)
        self.gate = nn.Linear(2 * d, out_dim) if gated else None

    def forward(self, z: torch.Tensor, head: HeadOutput,
                extra: torch.Tensor | None = None) -> AnalyzerOutput:
        parts = [z, head.hidden, head.raw] + ([extra] if extra is not None else [])
        x = self.inp(torch.cat(parts, dim=-1))
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        raw = self.out(x)
        if self.gate is None:
            return AnalyzerOutput(raw, None, x)
        gate = torch.sigmoid(self.gate(torch.cat([head.hidden, x], dim=-1)))
        return AnalyzerOutput(raw, head.raw + gate * (raw - head.raw), x)
