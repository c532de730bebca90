"""Top-k mixture of experts with the Switch-Transformer load-balance loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from redheart.model.layers import mlp

CountSync = Callable[[torch.Tensor], torch.Tensor]
"""Sums per-expert routing counts over the ranks of a distributed run."""


def load_balance_loss(router_probs: torch.Tensor, chosen: torch.Tensor,
                      sync: CountSync | None = None) -> torch.Tensor:
    """E * sum_e f_e * P_e (Fedus et al. 2021, generalised to top-k).

    f_e is the share of routing slots given to expert e and P_e its mean
    router probability. It equals 1 for perfectly uniform routing and grows
    as routing concentrates, so adding it keeps every expert in use.
    router_probs[N, E]; chosen[N, k] expert indices.

    With `sync`, f_e is the share over every rank's rows: f carries no
    gradient, so using the global f makes the ranks' losses (weighted by
    their row shares) sum to exactly the loss of the whole batch, and
    distributed training matches one process on the same batch.
    """
    n_experts = router_probs.shape[-1]
    flat = chosen.reshape(-1)
    counts = torch.zeros(n_experts, device=router_probs.device, dtype=router_probs.dtype)
    counts.scatter_add_(0, flat, torch.ones_like(flat, dtype=counts.dtype))
    if sync is not None:
        counts = sync(counts)
    share = counts / counts.sum()
    return n_experts * torch.sum(share * router_probs.mean(0))


@dataclass
class MoEOutput:
    """Result of one MoE pass."""

    output: torch.Tensor
    """[N, d] mixture of the chosen experts' outputs."""
    aux_loss: torch.Tensor
    """Scalar load-balance loss."""
    router_probs: torch.Tensor
    """[N, E] softmax of the router logits."""
    chosen: torch.Tensor
    """[N, k] indices of the experts each row went to."""


class MixtureOfExperts(nn.Module):
    """Routes each row to its top-k experts; gates renormalised over the k chosen.

    Every expert runs on every row and the unchosen ones get gate 0. The rows
    are pooled task vectors (one per example, not per token), so the dense
    pass costs well under 1% of a step, and in exchange no tensor shape
    depends on the routing: the memory forecast's meta-device dry run, CUDA
    graphs and torch.compile all need that.
    """

    def __init__(self, d: int, hidden: int, n_experts: int, top_k: int, dropout: float) -> None:
        super().__init__()
        self.top_k = top_k
        self.router = nn.Linear(d, n_experts, bias=False)
        self.experts = nn.ModuleList(mlp(d, hidden, d, dropout) for _ in range(n_experts))
        self.count_sync: CountSync | None = None
        """Set by distributed training; used in training mode only (evaluation is per rank)."""

    def forward(self, x: torch.Tensor) -> MoEOutput:
        probs = torch.softmax(self.router(x).float(), dim=-1)
        gates, chosen = probs.topk(self.top_k, dim=-1)
        gates = gates / gates.sum(-1, keepdim=True)
        weights = torch.zeros_like(probs).scatter(-1, chosen, gates).to(x.dtype)   # [N, E]
        out = sum(expert(x) * weights[:, index, None]
                  for index, expert in enumerate(self.experts))
        sync = self.count_sync if self.training else None
        return MoEOutput(out, load_balance_loss(probs, chosen, sync), probs, chosen)
