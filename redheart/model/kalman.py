"""Differentiable Kalman update fusing two emotion estimates."""

from __future__ import annotations

import torch
from torch import nn

from redheart.config import ModelConfig
from redheart.tasks import EKMAN

_N = len(EKMAN)
_TRIL = _N * (_N + 1) // 2


class KalmanFilter(nn.Module):
    """Treats the head's Ekman logits as the prior and the analyzer's as a measurement.

    A network reads both hidden states and predicts the two covariances (as
    Cholesky factors), so the fusion trusts whichever estimate is more
    certain for this example; a learned linear transition (starting at the
    identity) and diagonal process noise form the predict step. The
    posterior covariance's diagonal is returned as per-class uncertainty.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.context = nn.Sequential(nn.LayerNorm(2 * d), nn.Linear(2 * d, cfg.kalman_dim),
                                     nn.GELU(), nn.Linear(cfg.kalman_dim, d), nn.GELU())
        self.prior_factor = nn.Linear(d, _TRIL)
        self.measure_factor = nn.Linear(d, _TRIL)
        self.transition = nn.Parameter(torch.zeros(_N, _N))
        self.process_noise = nn.Parameter(torch.full((_N,), -3.0))
        self.register_buffer("_tril", torch.tril_indices(_N, _N), persistent=False)

    def _covariance(self, params: torch.Tensor) -> torch.Tensor:
        factor = params.new_zeros(params.shape[0], _N, _N)
        factor[:, self._tril[0], self._tril[1]] = params
        diag = torch.nn.functional.softplus(factor.diagonal(dim1=-2, dim2=-1)) + 1e-3
        factor = factor.tril(-1) + torch.diag_embed(diag)
        return factor @ factor.transpose(-1, -2)

    def forward(self, prior: torch.Tensor, measurement: torch.Tensor, head_hidden: torch.Tensor,
                analyzer_hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (posterior logits[B,7], posterior variance[B,7])."""
        ctx = self.context(torch.cat([head_hidden, analyzer_hidden], dim=-1)).float()
        eye = torch.eye(_N, device=prior.device)
        transition = eye + self.transition.float()
        x = prior.float() @ transition.T
        p = (transition @ self._covariance(self.prior_factor(ctx)) @ transition.T
             + torch.diag(torch.nn.functional.softplus(self.process_noise.float())))
        r = self._covariance(self.measure_factor(ctx))
        # K = P (P + R)^-1, computed as a solve (both are symmetric).
        gain = torch.linalg.solve(p + r, p).transpose(-1, -2)
        innovation = measurement.float() - x
        posterior = x + (gain @ innovation.unsqueeze(-1)).squeeze(-1)
        variance = ((eye - gain) @ p).diagonal(dim1=-2, dim2=-1)
        return posterior.to(prior.dtype), variance.to(prior.dtype)
