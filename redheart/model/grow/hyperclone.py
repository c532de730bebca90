"""Function-preserving width growth of the unified model (HyperCloning, Samragh et al. 2024).

`grow_model(model, factor=4)` returns a model with every hidden width (and
the attention head count) multiplied by k = sqrt(factor), about factor times
the parameters, that computes exactly the small model's outputs: each
hidden vector x becomes [x, ..., x] (see layout.py), the label-sized outputs
stay as they are, and LayerNorm statistics are unchanged. Optional paired
noise (noise.py) breaks the copies' symmetry; optional new layers
(identity_layers.py) start as exact identities.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from redheart.config import ModelConfig
from redheart.errors import RedHeartError
from redheart.model.grow.identity_layers import insert_identity_layers
from redheart.model.grow.layout import expand_dim, grown_size, resolve
from redheart.model.grow.noise import add_paired_noise
from redheart.model.grow.rules import RuleTable, rule_table
from redheart.model.unified import UnifiedModel

WIDTH_FIELDS = (
    "d_model", "n_heads", "ffn_dim", "task_proj_dim", "adapter_dim", "pool_dim",
    "emotion_base_dim", "moe_expert_dim", "emotion_level_dim", "cultural_dim",
    "bentham_expert_dim", "regret_trunk_dim", "regret_view_dim", "surd_component_dim",
    "analyzer_ffn_dim", "dsp_channels", "dsp_filters", "dsp_hidden", "kalman_dim",
)
"""ModelConfig keys multiplied by k. n_heads grows with d_model so head_dim is kept."""
KEPT_FIELDS = (
    "input_dim", "n_layers", "dropout", "attention_dropout", "moe_experts", "moe_top_k",
    "emotion_analyzer_blocks", "bentham_calculator_blocks", "regret_analyzer_blocks",
    "surd_analyzer_blocks", "dsp_kernel", "dsp_bands", "fusion_layers", "modules", "disabled",
)
"""ModelConfig keys the growth keeps: the encoder's width, depths, expert counts, the
DSP filter taps and bands, the module selection (n_layers grows only by new layers)."""


class GrowError(RedHeartError):
    """The growth asked for is not supported; the message says what is."""


def copies_for_factor(factor: int) -> int:
    """Width multiplier k for a parameter factor k^2 (4 -> 2, 9 -> 3)."""
    k = math.isqrt(factor) if factor > 0 else 0
    if k < 2 or k * k != factor:
        raise GrowError(f"--factor {factor}: the factor must be a perfect square >= 4 "
                        f"(width x sqrt(factor)); use --factor 4 for 2x width, ~4x parameters")
    return k


def grown_config(cfg: ModelConfig, copies: int, new_layers: int = 0) -> ModelConfig:
    """The small config with every width times `copies` and `new_layers` more backbone layers."""
    widened = {name: getattr(cfg, name) * copies for name in WIDTH_FIELDS}
    return dataclasses.replace(cfg, **widened, n_layers=cfg.n_layers + new_layers)


def grow_tensor(key: str, tensor: torch.Tensor, table: RuleTable, copies: int,
                snr_db: float | None, generator: torch.Generator) -> torch.Tensor:
    rules = table.lookup(key)
    if len(rules) != tensor.dim():
        raise ValueError(f"{key}: grow rule has {len(rules)} dimensions, the tensor "
                         f"{tensor.dim()}")
    layouts = tuple(resolve(rule.layout, size, key)
                    for rule, size in zip(rules, tensor.shape, strict=True))
    grown = tensor.detach().float()
    for dim, (rule, layout) in enumerate(zip(rules, layouts, strict=True)):
        grown = expand_dim(grown, dim, layout, copies, rule.contracted)
    assert grown.shape == tuple(grown_size(lay, copies) for lay in layouts), key
    if snr_db is not None:
        grown = add_paired_noise(key, grown, rules, layouts, copies, snr_db, generator)
    return grown.to(tensor.dtype)


def grow_state_dict(model: UnifiedModel, factor: int, snr_db: float | None = None,
                    new_layers: int = 0, seed: int = 0
                    ) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """(grown config, grown state dict) of a small model; nothing else is allocated.

    The result is checked key by key and shape by shape against the grown
    model built on the meta device.
    """
    copies = copies_for_factor(factor)
    if new_layers < 0:
        raise GrowError(f"--new-layers {new_layers}: must be 0 or more")
    cfg = model.config
    table = rule_table(cfg, model.enabled)
    generator = torch.Generator().manual_seed(seed)
    state = {key: grow_tensor(key, value, table, copies, snr_db, generator)
             for key, value in model.state_dict().items()}
    big = grown_config(cfg, copies, new_layers)
    if new_layers:
        state = insert_identity_layers(state, grown_config(cfg, copies), new_layers, seed)
    with torch.device("meta"):
        expected = UnifiedModel(big, model.mode).state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    wanted = {k: tuple(v.shape) for k, v in expected.items()}
    if shapes != wanted:
        wrong = sorted(set(shapes.items()) ^ set(wanted.items()))[:3]
        raise AssertionError(f"grown state dict does not fit the grown model: {wrong}")
    return big, state


def grow_model(model: UnifiedModel, factor: int = 4, snr_db: float | None = None,
               new_layers: int = 0, seed: int = 0) -> UnifiedModel:
    """The grown model, in the small one's mode; it computes the same outputs."""
    big, state = grow_state_dict(model, factor, snr_db, new_layers, seed)
    grown = UnifiedModel(big, model.mode)
    grown.load_state_dict(state, assign=True)
    return grown
