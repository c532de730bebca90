"""Utilities: cross-task attention fusion and task-uncertainty loss weights."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from redheart.config import ModelConfig
from redheart.model.layers import EncoderLayer
from redheart.tasks import TASKS


class Utilities(nn.Module):
    """Lets the four task vectors attend to each other before the heads.

    Emotion informs regret, regret informs the hedonic value: a small
    transformer over the four task tokens exchanges that information, and a
    gate per task decides how much of it to take. It also holds the learned
    log-variances that weight the task losses (Kendall, Gal and Cipolla 2018).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.task_embedding = nn.Parameter(torch.zeros(len(TASKS), d))
        self.fusion = nn.ModuleList(
            EncoderLayer(d, cfg.n_heads, cfg.ffn_dim, cfg.dropout, cfg.attention_dropout)
            for _ in range(cfg.fusion_layers)
        )
        self.norm = nn.LayerNorm(d)
        self.gate = nn.Linear(2 * d, d)
        self.log_vars = nn.Parameter(torch.zeros(len(TASKS)))
        """log sigma^2 per task, in TASKS order."""

    def fuse(self, vectors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        tokens = torch.stack([vectors[t] for t in TASKS], dim=1) + self.task_embedding
        for layer in self.fusion:
            tokens = layer(tokens)
        shared = self.norm(tokens)
        fused = {}
        for i, task in enumerate(TASKS):
            z, c = vectors[task], shared[:, i]
            fused[task] = z + torch.sigmoid(self.gate(torch.cat([z, c], dim=-1))) * c
        return fused

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """sum_t exp(-s_t) L_t + s_t over the tasks present in `losses`."""
        total = self.log_vars.new_zeros(())
        for i, task in enumerate(TASKS):
            if task in losses:
                total = total + torch.exp(-self.log_vars[i]) * losses[task] + self.log_vars[i]
        return total
