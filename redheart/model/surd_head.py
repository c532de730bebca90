"""SURD head: one network per information component, shares on the simplex."""

from __future__ import annotations

import torch
from torch import nn

from redheart.config import ModelConfig
from redheart.model.head_output import HeadOutput
from redheart.model.layers import mlp
from redheart.tasks import SURD


class SurdHead(nn.Module):
    """Scores redundant, unique, synergistic and leak separately.

    Separate networks let each component find its own evidence; the softmax
    in `decode` turns the four scores into shares that sum to 1.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.norm = nn.LayerNorm(d)
        self.components = nn.ModuleList(mlp(d, cfg.surd_component_dim, d, cfg.dropout)
                                        for _ in SURD)
        self.scores = nn.ModuleList(nn.Linear(d, 1) for _ in SURD)
        self.out_norm = nn.LayerNorm(d)

    def forward(self, z: torch.Tensor) -> HeadOutput:
        x = self.norm(z)
        parts = [component(x) for component in self.components]
        raw = torch.cat([score(p) for score, p in zip(self.scores, parts, strict=True)], dim=-1)
        hidden = self.out_norm(z + torch.stack(parts, 0).sum(0))
        return HeadOutput(raw, hidden)
