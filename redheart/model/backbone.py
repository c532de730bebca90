"""The shared backbone: token states in, one vector per task out.

The encoder's token states already carry position (the encoder is a BERT),
so the backbone adds no positional embedding of its own; it re-contextualises
the states for our four tasks and pools them per task with attention, so each
task can look at the tokens that matter to it.
"""

from __future__ import annotations

import torch
import torch.utils.checkpoint
from torch import nn

from redheart.config import ModelConfig
from redheart.model.layers import EncoderLayer
from redheart.tasks import TASKS


class InputProjection(nn.Sequential):
    """Linear-LN-GELU-Dropout-Linear-LN: encoder width -> d_model."""

    def __init__(self, cfg: ModelConfig) -> None:
        d = cfg.d_model
        super().__init__(
            nn.Linear(cfg.input_dim, d), nn.LayerNorm(d), nn.GELU(), nn.Dropout(cfg.dropout),
            nn.Linear(d, d), nn.LayerNorm(d),
        )


class Transformer(nn.Module):
    """Pre-LN encoder layers plus the final LayerNorm pre-LN needs.

    The layers are a plain ModuleList so that activation checkpointing can
    wrap each layer on its own.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(cfg.d_model, cfg.n_heads, cfg.ffn_dim, cfg.dropout,
                         cfg.attention_dropout)
            for _ in range(cfg.n_layers)
        )
        self.final_norm = nn.LayerNorm(cfg.d_model)
        self.checkpoint_layers = False
        """Set by the memory planner's activation-checkpointing saver."""

    def forward(self, x: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            if self.checkpoint_layers and self.training and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(layer, x, padding, use_reentrant=False)
            else:
                x = layer(x, padding)
        return self.final_norm(x)


class AttentionPool(nn.Module):
    """Additive attention pooling over valid tokens (padding gets zero weight)."""

    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        # No bias on the last layer: softmax is shift-invariant, so it would get no gradient.
        self.score = nn.Sequential(nn.Linear(d, hidden), nn.Tanh(),
                                   nn.Linear(hidden, 1, bias=False))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(x).squeeze(-1).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores.float(), dim=-1).to(x.dtype)
        return torch.einsum("bt,btd->bd", weights, x)


class TaskProjection(nn.Sequential):
    """Bottleneck projection of a pooled vector into its task's space."""

    def __init__(self, d: int, hidden: int) -> None:
        super().__init__(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d), nn.LayerNorm(d))


class Adapter(nn.Module):
    """Residual MLP adapter that specialises a task vector."""

    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.down = nn.Linear(d, hidden)
        self.up = nn.Linear(hidden, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(nn.functional.gelu(self.down(self.norm(x))))


class Backbone(nn.Module):
    """Input projection -> transformer -> per-task attention, projection, adapter."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.input_projection = InputProjection(cfg)
        self.transformer = Transformer(cfg)
        self.task_attention = nn.ModuleDict({t: AttentionPool(d, cfg.pool_dim) for t in TASKS})
        self.task_projections = nn.ModuleDict(
            {t: TaskProjection(d, cfg.task_proj_dim) for t in TASKS}
        )
        self.task_specialization = nn.ModuleDict({t: Adapter(d, cfg.adapter_dim) for t in TASKS})

    def forward(
        self, token_states: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """token_states[B,T,input_dim], mask[B,T] (True = real token) ->
        (contextual states[B,T,d_model], {task: vector[B,d_model]})."""
        states = self.transformer(self.input_projection(token_states), ~mask)
        vectors = {}
        for task in TASKS:
            pooled = self.task_attention[task](states, mask)
            vectors[task] = self.task_specialization[task](self.task_projections[task](pooled))
        return states, vectors
