"""Mixture of experts: routing is exact, and the load-balance loss favours uniformity."""

from __future__ import annotations

import torch

from redheart.model.moe import MixtureOfExperts, load_balance_loss

E = 8


def test_load_balance_loss_is_one_for_uniform_routing():
    probs = torch.full((32, E), 1.0 / E)
    chosen = torch.arange(64).view(32, 2) % E
    assert torch.isclose(load_balance_loss(probs, chosen), torch.tensor(1.0))


def test_load_balance_loss_grows_as_routing_concentrates():
    uniform = load_balance_loss(torch.full((32, E), 1.0 / E), torch.arange(32).view(32, 1) % E)
    skewed_probs = torch.softmax(torch.tensor([3.0, 1.0] + [0.0] * (E - 2)), -1).expand(32, E)
    skewed = load_balance_loss(skewed_probs, torch.zeros(32, 1, dtype=torch.long))
    collapsed = load_balance_loss(torch.eye(E)[torch.zeros(32, dtype=torch.long)],
                                  torch.zeros(32, 1, dtype=torch.long))
    assert uniform < skewed < collapsed
    assert torch.isclose(collapsed, torch.tensor(float(E)))


def test_uniform_router_gives_minimal_aux_loss():
    torch.manual_seed(0)
    moe = MixtureOfExperts(16, 32, E, 2, dropout=0.0)
    with torch.no_grad():
        moe.router.weight.zero_()
    out = moe(torch.linspace(-1, 1, 20 * 16).view(20, 16))
    assert torch.allclose(out.router_probs, torch.full((20, E), 1.0 / E))
    assert torch.isclose(out.aux_loss, torch.tensor(1.0))


def test_output_equals_dense_gated_sum_of_chosen_experts():
    torch.manual_seed(0)
    moe = MixtureOfExperts(16, 32, E, 2, dropout=0.0).eval()
    x = torch.linspace(-2, 2, 12 * 16).view(12, 16).sin()
    out = moe(x)
    expected = torch.zeros_like(x)
    for row in range(x.shape[0]):
        gates = out.router_probs[row, out.chosen[row]]
        gates = gates / gates.sum()
        for gate, expert in zip(gates, out.chosen[row].tolist(), strict=True):
            expected[row] += gate * moe.experts[expert](x[row])
    assert torch.allclose(out.output, expected, atol=1e-6)
