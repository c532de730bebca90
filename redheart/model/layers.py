"""Building blocks shared by the heads, analyzers and auxiliary modules."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def mlp(d_in: int, hidden: int, d_out: int, dropout: float) -> nn.Sequential:
    """Linear-GELU-Dropout-Linear: the feed-forward shape every module uses."""
    return nn.Sequential(
        nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, d_out)
    )


class ResidualBlock(nn.Module):
    """Pre-LN residual feed-forward block: x + MLP(LN(x)).

    Pre-LN keeps deep stacks (the analyzers have up to 10 of these) trainable
    without warmup tricks; the output projection is scaled down at init so
    the residual stream does not grow with depth (GPT-2's recipe).
    """

    def __init__(self, d: int, hidden: int, dropout: float, depth: int = 1) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.ff = mlp(d, hidden, d, dropout)
        self.residual_scale = 1.0 / math.sqrt(2.0 * depth)

    def reset_output_scale(self) -> None:
        """Called after the global init, which would otherwise undo the scaling."""
        with torch.no_grad():
            self.ff[-1].weight.mul_(self.residual_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ff(self.norm(x))


class EncoderLayer(nn.Module):
    """Pre-LN transformer encoder layer (d, heads, FFN, GELU, batch_first).

    The shape of torch's TransformerEncoderLayer with norm_first=True, but
    with dropout placed as in BERT and GPT-2: on the two residual branches
    and (separately set) on attention probabilities, not on the FFN's 4x-wide
    hidden activations. That hidden dropout regularises little and, on CPU,
    drawing its mask costs more than a tenth of a 330M training step.

    Attention keeps nn.MultiheadAttention's parameters (one packed q/k/v
    projection and an output projection) but is computed here with
    scaled_dot_product_attention, so every op is a plain torch function the
    memory forecast's dry run can see.
    """

    def __init__(self, d: int, heads: int, ffn: int, dropout: float,
                 attention_dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=attention_dropout,
                                               batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        self.linear1 = nn.Linear(d, ffn)
        self.linear2 = nn.Linear(ffn, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None = None) -> torch.Tensor:
        """x[B,T,d]; padding[B,T] True where a position is padding."""
        x = x + self.dropout(self._attend(self.norm1(x), padding))
        return x + self.dropout(self.linear2(nn.functional.gelu(self.linear1(self.norm2(x)))))

    def _attend(self, h: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        attn = self.self_attn
        batch, length, d = h.shape
        qkv = F.linear(h, attn.in_proj_weight, attn.in_proj_bias)
        q, k, v = qkv.view(batch, length, 3, attn.num_heads, d // attn.num_heads).unbind(2)
        keep = None if padding is None else ~padding[:, None, None, :]
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=keep,
            dropout_p=attn.dropout if self.training else 0.0)
        return attn.out_proj(out.transpose(1, 2).reshape(batch, length, d))


def init_weights(module: nn.Module) -> None:
    """Small normal init for every Linear, unit LayerNorms, zero biases.

    The library defaults (Kaiming uniform) give the wide 3-4k hidden layers
    a large output variance; a fixed 0.02 std, as in BERT and GPT-2, keeps
    the initial losses of all four tasks in the same range. Meta tensors (the
    memory forecast's model) hold no values, so they are left as they are.
    """
    if any(p.is_meta for p in module.parameters()):
        return
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, mean=0.0, std=0.02)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)
    for sub in module.modules():
        if isinstance(sub, ResidualBlock):
            sub.reset_output_scale()


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over dim 1 of x[B, T, C] where mask[B, T] is True (valid tokens)."""
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)
