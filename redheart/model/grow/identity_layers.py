"""New backbone layers that start as exact identities.

A pre-LN encoder layer computes x + attn(LN(x)) + ffn(LN(...)); with the
attention's output projection and the FFN's second linear at zero (weights
and biases) both branches add nothing, so the layer passes x through
unchanged. Its other weights get the usual init, so the zero projections
receive gradient at once and the layer starts learning from the first step.
"""

from __future__ import annotations

import re

import torch

from redheart.config import ModelConfig
from redheart.model.layers import EncoderLayer, init_weights

_PREFIX = "backbone.transformer.layers."
_LAYER_KEY = re.compile(re.escape(_PREFIX) + r"(\d+)\.(.+)")


def placement(old: int, new: int) -> list[int | None]:
    """Layer order: old layer indices, with None where a new layer goes.

    New layers are spread evenly: new layer j follows old layer
    (j + 1) * old // new - 1, e.g. 6 old and 2 new: after layers 2 and 5.
    """
    after = [max((j + 1) * old // new - 1, 0) for j in range(new)]
    order: list[int | None] = []
    for i in range(old):
        order.append(i)
        order += [None] * after.count(i)
    return order


def identity_layer(cfg: ModelConfig, seed: int) -> dict[str, torch.Tensor]:
    """State dict of one new encoder layer at the grown width, zero output projections."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = EncoderLayer(cfg.d_model, cfg.n_heads, cfg.ffn_dim, cfg.dropout,
                             cfg.attention_dropout)
        init_weights(layer)
    with torch.no_grad():
        for linear in (layer.self_attn.out_proj, layer.linear2):
            linear.weight.zero_()
            linear.bias.zero_()
    return layer.state_dict()


def insert_identity_layers(state: dict[str, torch.Tensor], cfg: ModelConfig, count: int,
                           seed: int) -> dict[str, torch.Tensor]:
    """`state` (of a model with `cfg.n_layers` layers) with `count` identity layers inserted."""
    layers: dict[int, dict[str, torch.Tensor]] = {}
    rest: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        match = _LAYER_KEY.fullmatch(key)
        if match:
            layers.setdefault(int(match.group(1)), {})[match.group(2)] = value
        else:
            rest[key] = value
    out: dict[str, torch.Tensor] = {}
    new = 0
    for index, old in enumerate(placement(cfg.n_layers, count)):
        if old is None:
            params = identity_layer(cfg, seed + 1 + new)
            new += 1
        else:
            params = layers[old]
        out.update({f"{_PREFIX}{index}.{name}": value for name, value in params.items()})
    return {**out, **rest}
