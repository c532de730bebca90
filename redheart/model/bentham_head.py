"""Bentham head: four ethics experts, gated, predict the hedonic calculus."""

from __future__ import annotations

import torch
from torch import nn

from redheart.config import ModelConfig
from redheart.model.decode import RAW_DIM
from redheart.model.head_output import HeadOutput
from redheart.model.layers import mlp
from redheart.tasks import ETHICS


class BenthamHead(nn.Module):
    """Utilitarian, deontological, virtue and care experts blended by a gate.

    The gate is per example, so the model can lean on the ethic that fits an
    action; its weights are returned for inspection as `bentham_ethics_gate`.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.trunk = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.GELU())
        self.experts = nn.ModuleList(
            mlp(d, cfg.bentham_expert_dim, d, cfg.dropout) for _ in ETHICS
        )
        self.gate = nn.Linear(d, len(ETHICS))
        self.out_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, RAW_DIM["bentham"])

    def forward(self, z: torch.Tensor) -> HeadOutput:
        t = self.trunk(z)
        gate = torch.softmax(self.gate(t), dim=-1)
        experts = torch.stack([expert(t) for expert in self.experts], dim=1)
        h = self.out_norm(z + torch.einsum("be,bed->bd", gate, experts))
        return HeadOutput(self.out(h), h, {"bentham_ethics_gate": gate})
