"""The Kalman fusion behaves like a Kalman update: trust follows the noise."""

from __future__ import annotations

import torch

from redheart.config import ModelConfig
from redheart.model.kalman import KalmanFilter

N = 7


def make_filter() -> tuple[KalmanFilter, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    kf = KalmanFilter(ModelConfig(d_model=16, kalman_dim=24))
    hidden_h = torch.linspace(-1, 1, 4 * 16).view(4, 16)
    hidden_a = hidden_h.flip(0)
    return kf, hidden_h, hidden_a


def set_measurement_noise(kf: KalmanFilter, diag_bias: float) -> None:
    """Measurement covariance = (softplus(diag_bias) + 1e-3)^2 * I for every input."""
    diagonal = kf._tril[0] == kf._tril[1]
    with torch.no_grad():
        kf.measure_factor.weight.zero_()
        kf.measure_factor.bias.zero_()
        kf.measure_factor.bias[diagonal] = diag_bias


def test_equal_estimates_pass_through():
    kf, hh, ha = make_filter()
    prior = torch.linspace(-2, 2, 4 * N).view(4, N)
    posterior, variance = kf(prior, prior.clone(), hh, ha)
    assert torch.allclose(posterior, prior, atol=1e-5)
    assert (variance > 0).all()


def test_noisy_measurement_is_ignored_and_exact_one_is_followed():
    kf, hh, ha = make_filter()
    prior = torch.zeros(4, N)
    measurement = torch.ones(4, N)
    set_measurement_noise(kf, 1e3)
    ignored, _ = kf(prior, measurement, hh, ha)
    assert torch.allclose(ignored, prior, atol=1e-4)
    set_measurement_noise(kf, -30.0)
    followed, variance = kf(prior, measurement, hh, ha)
    assert torch.allclose(followed, measurement, atol=1e-2)
    # Fusing an exact measurement leaves little uncertainty.
    assert (variance < 1e-2).all()
