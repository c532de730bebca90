"""Build the forecast's meta-device model and batch, and measure one micro-step.

Nothing here allocates: the model and the batch live on `meta`, so the
330M model's dry run costs milliseconds and no memory. Models are cached per
architecture because a module toggle in the console asks again at once (a
trained encoder per name, `encoder_dry_run.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache

import torch
from torch import nn

from redheart.config import Config, ModelConfig, TrainConfig, longest_budget
from redheart.data.batching import TARGET_SHAPES, Batch
from redheart.data.sources import READERS
from redheart.memory.activations import SavedBytes, measure_saved
from redheart.memory.attention_kernels import AttentionKernelChoice
from redheart.memory.autocast_emulation import CudaAutocastEmulation
from redheart.memory.encoder_dry_run import ENCODER, check_reach, encoder_states, meta_encoder
from redheart.model.catalog import ExecutionMode
from redheart.model.unified import UnifiedModel
from redheart.step_shape import step_shape
from redheart.train.losses import LossSettings
from redheart.train.stages import cached_states, combine_losses, compute_stage, forward_stage

META = torch.device("meta")
_DRY_RUN = threading.Lock()
"""The cached meta models carry the measuring hooks while they run: one dry run at a time
(the console's prefetch and a starting run can ask together)."""


@lru_cache(maxsize=16)
def meta_model(cfg: ModelConfig) -> UnifiedModel:
    """The model as TRAINING builds it, on `meta`, in train mode (dropout masks are saved)."""
    with META:
        model = UnifiedModel(cfg, ExecutionMode.TRAINING)
    return model.train()


def meta_batch(cfg: ModelConfig, rows: int, tokens: int, pairs: bool = False,
               token_ids: bool = False, device: torch.device = META,
               fields: tuple[str, ...] | None = None) -> Batch:
    """A full-length batch in which every row carries every target: the worst case.

    `token_ids`: the batch a trained encoder reads ([B, T] ids), not token states.
    `device` and `fields` are for the FLOP count (`train/flops.py`): cpu for a small
    model, where zeros are valid token ids and targets; only these target fields, as a
    batch of a source that has no others carries.
    """
    inputs = (torch.zeros(rows, tokens, dtype=torch.long, device=device) if token_ids
              else torch.zeros(rows, tokens, cfg.input_dim, device=device))
    mask = torch.ones(rows, tokens, dtype=torch.bool, device=device)
    if pairs:
        return Batch(inputs, mask, pair_inputs=torch.zeros_like(inputs),
                     pair_mask=torch.ones_like(mask),
                     less_ethical=torch.zeros(rows, dtype=torch.long, device=device))
    batch = Batch(inputs, mask)
    for name, width in TARGET_SHAPES.items():
        if fields is not None and name not in fields:
            continue
        shape = (rows,) if width == 0 else (rows, width)
        batch.targets[name] = torch.zeros(shape, device=device)
        batch.present[name] = torch.ones(rows, dtype=torch.bool, device=device)
    return batch


def batch_tokens(config: Config) -> int:
    """Tokens of the longest batch: the longest per-source max_tokens (the worst case)."""
    return longest_budget(config.data).max_tokens


def has_pairs(config: Config) -> bool:
    """Whether a step can hold dilemma pairs, whose batches run the model twice."""
    return any(READERS[s.kind].pairs for s in config.data.sources)


def trained_encoder(config: Config) -> dict[str, nn.Module]:
    """{ENCODER: the meta encoder} when the step trains it ([data] encoder_trainable), else
    {}: the extra owner `measure_saved` charges its saved tensors to."""
    if not config.data.encoder_trainable:
        return {}
    return {ENCODER: meta_encoder(config.data.encoder)}


def check_trained_encoder(config: Config) -> None:
    """A trained encoder must reach the longest budget (`check_reach`); called with the
    profile itself, whose name the forecast's cache key drops."""
    if config.data.encoder_trainable:
        check_reach(meta_encoder(config.data.encoder), batch_tokens(config), config.source,
                    config.data.encoder)


def step_loss(model: UnifiedModel, encoder: nn.Module | None, batch: Batch,
              train: TrainConfig) -> Callable[[], torch.Tensor]:
    """FORWARD + COMPUTE of `batch` (through `encoder` when it is trained) to the loss the
    trainer back-propagates, as a closure: what the dry run measures and the FLOP count
    counts. Class weights are ones: their values change no shape."""
    device = batch.mask.device
    states = encoder_states(encoder) if encoder is not None else cached_states
    settings = LossSettings(torch.ones(TARGET_SHAPES["emotion"], device=device),
                            train.focal_gamma, torch.ones(2, device=device))

    def step() -> torch.Tensor:
        losses = compute_stage(forward_stage(model, batch, states), settings)
        return combine_losses(model, losses, train)

    return step


def measure_step(config: Config, bf16: bool, pairs: bool, device: str = "cuda",
                 world: int = 1) -> SavedBytes:
    """Saved bytes of one FORWARD + COMPUTE of a full-length micro-batch on one of `world`
    ranks; with a trained encoder, its forward (twice for a pair batch) is part of it.

    Cached on what decides them (`_measured`), not on the whole config: the planner's
    optimizer savers (fused AdamW, 8-bit AdamW, offloading) change the forecast's key but
    no saved tensor, and each dry run of the 330M model costs a second or more.
    """
    encoder = config.data.encoder if config.data.encoder_trainable else None
    saved = _measured(config.model, encoder, step_shape(config, world).rows_per_forward,
                      batch_tokens(config), pairs, config.train,
                      config.memory.activation_checkpointing, bf16, device)
    return SavedBytes(activations=dict(saved.activations),
                      autocast_cache=dict(saved.autocast_cache), order=list(saved.order))


@lru_cache(maxsize=64)
def _measured(model_config: ModelConfig, encoder: str | None, rows: int, tokens: int,
              pairs: bool, train: TrainConfig, checkpointing: bool, bf16: bool,
              device: str) -> SavedBytes:
    """`measure_step`'s dry run, from every input it reads (callers get a copy)."""
    model = meta_model(model_config)
    extra = {ENCODER: meta_encoder(encoder)} if encoder is not None else {}
    batch = meta_batch(model_config, rows, tokens, pairs, token_ids=bool(extra))
    step = step_loss(model, extra.get(ENCODER), batch, train)
    with _DRY_RUN:
        model.backbone.transformer.checkpoint_layers = checkpointing
        return measure_saved(model, step, CudaAutocastEmulation() if bf16 else None,
                             AttentionKernelChoice(device), extra)


def measure_layer_recompute(config: Config, bf16: bool, device: str = "cuda",
                            world: int = 1) -> int:
    """Bytes one checkpointed backbone layer saves while it is recomputed in backward."""
    model = meta_model(config.model)
    layer = model.backbone.transformer.layers[0]
    rows, tokens = step_shape(config, world).rows_per_forward, batch_tokens(config)
    x = torch.empty(rows, tokens, config.model.d_model, device=META, requires_grad=True)
    padding = torch.zeros(rows, tokens, dtype=torch.bool, device=META)
    with _DRY_RUN:
        saved = measure_saved(model, lambda: layer(x, padding),
                              CudaAutocastEmulation() if bf16 else None,
                              AttentionKernelChoice(device))
    return saved.total()

