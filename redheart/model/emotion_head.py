"""Emotion head: base MLP, mixture of experts, 3-level hierarchy, cultural dims."""

from __future__ import annotations

import torch
from torch import nn

from redheart.config import ModelConfig
from redheart.model.head_output import HeadOutput
from redheart.model.layers import mlp
from redheart.model.moe import MixtureOfExperts
from redheart.tasks import CULTURAL, EKMAN, FINE_LABELS, SENTIMENTS


class EmotionHead(nn.Module):
    """Predicts Ekman logits through a coarse-to-fine hierarchy.

    GoEmotions' own taxonomy gives three levels: sentiment (4), Ekman (7) and
    the 28 fine labels. Each level sees the previous level's distribution,
    so the fine labels are predicted consistently with the coarse ones, and
    every level is supervised.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d, level = cfg.d_model, cfg.emotion_level_dim
        self.norm = nn.LayerNorm(d)
        self.base = mlp(d, cfg.emotion_base_dim, d, cfg.dropout)
        self.moe = MixtureOfExperts(d, cfg.moe_expert_dim, cfg.moe_experts, cfg.moe_top_k,
                                    cfg.dropout)
        self.moe_norm = nn.LayerNorm(d)
        self.sentiment = mlp(d, level, len(SENTIMENTS), cfg.dropout)
        self.ekman = mlp(d + len(SENTIMENTS), level, len(EKMAN), cfg.dropout)
        self.fine = mlp(d + len(EKMAN), level, len(FINE_LABELS), cfg.dropout)
        self.cultural = mlp(d, cfg.cultural_dim, len(CULTURAL), cfg.dropout)

    def forward(self, z: torch.Tensor) -> HeadOutput:
        h = z + self.base(self.norm(z))
        routed = self.moe(self.moe_norm(h))
        h = h + routed.output
        sentiment = self.sentiment(h)
        ekman = self.ekman(torch.cat([h, torch.softmax(sentiment, -1)], -1))
        fine = self.fine(torch.cat([h, torch.softmax(ekman, -1)], -1))
        return HeadOutput(ekman, h, {
            "sentiment_logits": sentiment,
            "fine_logits": fine,
            "cultural": torch.sigmoid(self.cultural(h)),
            "moe_aux_loss": routed.aux_loss,
            "moe_router_probs": routed.router_probs,
        })
