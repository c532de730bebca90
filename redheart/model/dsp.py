"""DSP simulator: emotion intensity along the text, read as a signal."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from redheart.config import ModelConfig

SAMPLES_PER_BAND = 4


class DspSimulator(nn.Module):
    """Filterbank and spectral features of per-token emotion intensities.

    How emotion rises, falls or oscillates through a text (a calm opening and
    an angry end, say) is lost by pooling. Projecting each token to a set of
    intensity channels gives a multichannel signal over token position; a
    learnable FIR filterbank finds local shapes and spectral magnitudes pooled
    into bands capture rhythm. Padded positions are zeroed, so they add nothing.

    The spectrum is the discrete-time Fourier transform sampled at fixed
    frequencies (SAMPLES_PER_BAND per band between 0 and 1/2 cycle per
    token), not an FFT over the padded length: an FFT's frequency grid is
    k / (padded length), so a text's features would change with the length
    of the longest text in its batch, and a prediction with its neighbours.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.bands = cfg.dsp_bands
        self.intensity = nn.Linear(cfg.d_model, cfg.dsp_channels)
        self.filterbank = nn.Conv1d(cfg.dsp_channels, cfg.dsp_filters, cfg.dsp_kernel,
                                    padding=cfg.dsp_kernel // 2)
        features = 2 * cfg.dsp_filters + cfg.dsp_channels * cfg.dsp_bands
        self.norm = nn.LayerNorm(features)
        self.mlp = nn.Sequential(nn.Linear(features, cfg.dsp_hidden), nn.GELU(),
                                 nn.Dropout(cfg.dropout), nn.Linear(cfg.dsp_hidden, cfg.d_model))

    def spectrum(self, signal: torch.Tensor) -> torch.Tensor:
        """|DTFT| of signal[B,C,T] at the fixed frequencies -> [B,C,bands], padding-free."""
        positions = torch.arange(signal.shape[-1], device=signal.device, dtype=torch.float32)
        frequencies = torch.linspace(0.0, 0.5, self.bands * SAMPLES_PER_BAND,
                                     device=signal.device)
        phase = 2 * torch.pi * positions[:, None] * frequencies[None, :]              # [T,M]
        x = signal.float()
        power = (x @ torch.cos(phase)) ** 2 + (x @ torch.sin(phase)) ** 2              # [B,C,M]
        magnitude = (power + 1e-12).sqrt()       # the epsilon keeps the gradient finite at 0
        return magnitude.unflatten(-1, (self.bands, SAMPLES_PER_BAND)).mean(-1)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """states[B,T,d], mask[B,T] -> features[B,d] for the emotion analyzer."""
        valid = mask.unsqueeze(1).to(states.dtype)                        # [B,1,T]
        signal = F.softplus(self.intensity(states)).transpose(1, 2) * valid  # [B,C,T]
        filtered = F.gelu(self.filterbank(signal))                        # [B,F,T]
        count = valid.sum(-1).clamp_min(1.0)
        mean = (filtered * valid).sum(-1) / count
        peak = filtered.masked_fill(valid == 0, float("-inf")).amax(-1)
        bands = self.spectrum(signal).log1p().to(states.dtype)             # [B,C,bands]
        features = torch.cat([mean, peak, bands.flatten(1)], dim=-1)
        return self.mlp(self.norm(features))
