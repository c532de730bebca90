"""The trained text encoder ([data] encoder_trainable) on `meta`, for the forecast.

When the encoder is fine-tuned, the step runs it in front of the model
(`Trainer._states`): its weights, gradients, AdamW state, autocast copies
and activations are training memory like the model's. The dry run builds
it from its directory's config alone (no weights are read), in fp32 as
`TextEncoder` loads it whatever the directory stores, and calls it as
`TextEncoder.states` does, so its saved tensors are measured with the model's.
"""

from __future__ import annotations

import os
from functools import lru_cache

import torch
from torch import nn

from redheart.data.encoder import resolve_encoder_dir
from redheart.errors import ConfigError
from redheart.train.stages import StatesFn

ENCODER = "encoder"
"""The forecast's row of the trained encoder (a part of the step, not a catalogue module)."""

@lru_cache(maxsize=4)
def meta_encoder(name: str) -> nn.Module:
    """`[data] encoder` as training loads it, on `meta`, in train mode (dropout masks are
    saved). Cached per name: the console's toggles forecast the same encoder again."""
    return encoder_from_config(name, torch.device("meta"))


def encoder_from_config(name: str, device: torch.device) -> nn.Module:
    """`[data] encoder` built from its config alone on `device` (random weights off meta:
    what the FLOP count of a small step runs, `train/flops.py`), fp32, in train mode."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoConfig, AutoModel  # heavy: only a trained encoder needs it

    path = resolve_encoder_dir(name)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"[data] encoder = '{name}': cannot read {path / 'config.json'} "
                          f"({str(exc).splitlines()[0]})") from None
    with device:
        model = AutoModel.from_config(config)
    return model.float().train()       # fp32 whatever the directory stores, as TextEncoder


def check_reach(encoder: nn.Module, tokens: int, source: str, name: str) -> None:
    """A trained encoder reads a whole budget inside the step: one longer than its position
    table is refused before the dry run (and later the run) fails deep inside it."""
    reach = getattr(encoder.config, "max_position_embeddings", None)
    if reach is not None and tokens > reach:
        raise ConfigError(f"{source}: [data] encoder_trainable: the encoder '{name}' reads at "
                          f"most {reach} tokens, but the longest max_tokens is {tokens}; "
                          f"lower it to {reach} or less")


def padding_attention_mask(mask: torch.Tensor) -> torch.Tensor:
    """The [B, 1, T, T] bool mask transformers builds from a padded batch's [B, T] mask.

    `TextEncoder.states` passes the [B, T] mask and transformers skips the
    mask when no row is padded, which it finds out by reading the mask: a
    meta tensor has no values to read. The dry run passes the mask a padded
    batch gets, the worst case (CUDA then runs attention with a bias instead
    of the flash kernel).
    """
    rows, tokens = mask.shape
    return mask[:, None, None, :].expand(rows, 1, tokens, tokens)


def encoder_states(encoder: nn.Module) -> StatesFn:
    """The StatesFn of the dry run: token ids -> the meta encoder's token states."""

    def states(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return encoder(input_ids=ids, attention_mask=padding_attention_mask(mask)
                       ).last_hidden_state

    return states
