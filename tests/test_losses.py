"""COMPUTE stage losses, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from redheart.data.batching import Batch
from redheart.data.example import Example
from redheart.train.losses import (
    LossSettings,
    bradley_terry,
    class_weights,
    extreme_penalty,
    focal_loss,
    task_losses,
)
from redheart.train.schedule import learning_rate


def test_focal_loss_matches_the_formula_and_reduces_to_weighted_ce():
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    target = torch.zeros(1, 7)
    target[0, 0] = 1.0
    weights = torch.full((7,), 2.0)
    p = math.exp(2) / (math.exp(2) + 6)
    assert focal_loss(logits, target, weights, 2.0).item() == pytest.approx(
        -2.0 * (1 - p) ** 2 * math.log(p), rel=1e-6)
    assert focal_loss(logits, target, weights, 0.0).item() == pytest.approx(
        -2.0 * math.log(p), rel=1e-6)


def test_class_weights_counter_the_joy_bias():
    joy = Example("a", "x", emotion=(0, 0, 0, 1.0, 0, 0, 0))
    anger = Example("b", "x", emotion=(1.0, 0, 0, 0, 0, 0, 0))
    weights = class_weights([joy, joy, joy, anger])
    assert weights[0] == pytest.approx(3 * weights[3])          # rarer class, larger weight
    freq = torch.tensor([0.25, 0, 0, 0.75, 0, 0, 0])
    assert float((freq * weights).sum()) == pytest.approx(1.0)  # mean weight 1 under the data
    assert weights[1] == 1.0                                     # absent class: neutral weight


def test_losses_average_only_over_rows_that_carry_the_target():
    outputs = {"regret": torch.tensor([0.5, 0.9]), "moe_aux_loss": torch.tensor(1.0)}
    batch = Batch(torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool),
                  targets={"regret": torch.tensor([0.45, 0.0])},
                  present={"regret": torch.tensor([True, False])})
    losses = task_losses(outputs, batch, LossSettings(torch.ones(7)))
    # Huber(delta 0.1) of 0.05 is 0.5 * 0.05^2; the second row (no target) is ignored.
    assert losses["regret"].item() == pytest.approx(0.5 * 0.05 ** 2)
    assert set(losses) == {"regret", "moe"}


def test_bradley_terry_prefers_the_less_ethical_action_lower():
    right = bradley_terry(torch.tensor([-0.8]), torch.tensor([0.6]), torch.tensor([0]))
    wrong = bradley_terry(torch.tensor([0.6]), torch.tensor([-0.8]), torch.tensor([0]))
    assert right.item() == pytest.approx(math.log1p(math.exp(-1.4)))
    assert wrong > right


def test_extreme_penalty_is_zero_inside_the_margin():
    assert extreme_penalty(torch.tensor([0.5, -0.9, 0.95])).tolist() == pytest.approx(
        [0.0, 0.0, 0.05 ** 2])


def test_schedule_warms_up_then_anneals_to_eta_min():
    assert learning_rate(0, 1e-3, 10, 110, 1e-6) == pytest.approx(1e-4)
    assert learning_rate(9, 1e-3, 10, 110, 1e-6) == pytest.approx(1e-3)
    assert learning_rate(60, 1e-3, 10, 110, 1e-6) == pytest.approx((1e-3 + 1e-6) / 2)
    assert learning_rate(110, 1e-3, 10, 110, 1e-6) == pytest.approx(1e-6)
