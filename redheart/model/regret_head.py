"""Regret head: optimistic, realistic and pessimistic views of regret."""

from __future__ import annotations

import torch
from torch import nn

from redheart.config import ModelConfig
from redheart.model.head_output import HeadOutput
from redheart.model.layers import mlp
from redheart.tasks import REGRET_VIEWS


class RegretHead(nn.Module):
    """A shared trunk, then one network per view.

    Each view predicts one quantile (10/50/90%) of the regret distribution;
    the regret itself is read from all three views together.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.trunk_norm = nn.LayerNorm(d)
        self.trunk = mlp(d, cfg.regret_trunk_dim, d, cfg.dropout)
        self.views = nn.ModuleList(mlp(d, cfg.regret_view_dim, d, cfg.dropout)
                                   for _ in REGRET_VIEWS)
        self.view_norm = nn.LayerNorm(d)
        self.view_out = nn.ModuleList(nn.Linear(d, 1) for _ in REGRET_VIEWS)
        self.regret_out = nn.Linear(len(REGRET_VIEWS) * d, 1)

    def forward(self, z: torch.Tensor) -> HeadOutput:
        t = z + self.trunk(self.trunk_norm(z))
        views = [self.view_norm(t + view(t)) for view in self.views]
        view_raw = torch.cat([out(v) for out, v in zip(self.view_out, views, strict=True)], dim=-1)
        regret_raw = self.regret_out(torch.cat(views, dim=-1))
        hidden = torch.stack(views, 0).mean(0)
        return HeadOutput(torch.cat([regret_raw, view_raw], dim=-1), hidden)
