"""Model FLOPs of a training step: the numerator of MFU.

What is counted is what training runs: the dry run's `step_loss` (FORWARD,
COMPUTE and the combined loss of `stages.py`, through the trained encoder
with `[data] encoder_trainable`, since the step runs it too) and its
backward to every trained parameter, under the formulas of torch's
`FlopCounterMode` (matmuls, convolutions, attention). Model FLOPs, not
hardware FLOPs: activation checkpointing's recompute is not counted (it is
off while counting) and attention is counted as the plain math (QK^T and
AV, forced with `SDPBackend.MATH`; the CPU flash kernel has no formula in
torch, and a GPU kernel's backward recompute is the hardware's cost).

Length buckets pad each batch to its own longest row, so the FLOPs per row
depend on the batch's padded length L: c + a*L + b*L^2 (the heads after
pooling, the token-wise layers, attention). Each counted operation is a
product of shapes, so counting one pass at the longest budget and one at
half of it tells, call by call, whether it grows with L^0, L^1 or L^2 (a
call that is none of these, such as a convolution over L+1 positions, is
taken as the line through its two counts). Two passes thus give the exact
polynomial, where fitting totals would need three. FLOPs per row are the
same at any row count, so a step's FLOPs are the sum over its forward
passes of rows * (c + a*L + b*L^2).

The backward reaches only the heads whose targets the batch carries (a
GoEmotions batch trains no regret head: 14% fewer FLOPs for the quickstart
model, 1-2% for the 329M one), and a dilemma batch
runs the model twice, once per action at its own padded length, training
only what the pair loss reads. So each kind of batch (dilemma pairs, or a
set of target fields) has its own polynomial, counted the first time a step
of that kind is measured (after the step, not inside its time) and cached.
A trained encoder's share is the same for every kind (`_count_kind`), so it
is counted once.

Counting is not free: on `meta` a pass costs about 0.5 s whatever the
model's width (each operation's shape is worked out in Python), so a kind
of batch costs the 329M model 1-2 s. A model of up to
`REAL_COUNT_MAX_PARAMS` parameters is therefore counted on real CPU tensors
at one row (a quickstart kind takes about 0.15 s, the same counts); a larger
one (the 329M model of a GPU run) on the cached meta model at the planned
rows, under the dry run's lock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from redheart.config import Config, ModelConfig, TrainConfig
from redheart.data.batching import Batch
from redheart.memory.dry_run import (
    _DRY_RUN,
    META,
    batch_tokens,
    meta_batch,
    meta_model,
    step_loss,
)
from redheart.memory.encoder_dry_run import encoder_from_config, encoder_states, meta_encoder
from redheart.model.catalog import ExecutionMode
from redheart.model.unified import UnifiedModel
from redheart.step_shape import step_shape

REAL_COUNT_MAX_PARAMS = 32_000_000
"""Up to this many parameters (model and trained encoder) the count runs on a CPU copy
(128 MB of fp32 weights at most, kept for the kinds still to count) rather than on the
meta model."""


@dataclass(frozen=True)
class PassFlops:
    """FLOPs of one row through one model run, forward + backward, at padded length L."""

    constant: float
    linear: float
    """Per token: the token-wise layers (projections, FFN, filterbank)."""
    quadratic: float
    """Per token pair: attention's QK^T and AV."""

    def at(self, tokens: int) -> float:
        return self.constant + self.linear * tokens + self.quadratic * tokens * tokens

    def __add__(self, other: PassFlops) -> PassFlops:
        return PassFlops(self.constant + other.constant, self.linear + other.linear,
                         self.quadratic + other.quadratic)


PAIRS = "pairs"
Kind = str | tuple[str, ...]
"""What decides a batch's backward: PAIRS, or the target fields of a plain batch."""


def batch_kind(batch: Batch) -> Kind:
    return PAIRS if batch.pair_inputs is not None else tuple(batch.targets)


@dataclass(frozen=True)
class StepFlops:
    """The FLOP model of one run's steps: what to count, and where; each kind of batch is
    counted the first time it is asked for (`of`)."""

    model: ModelConfig
    encoder: str | None
    """The trained encoder's name, which the step runs too; None with cached states."""
    rows: int
    """Rows per forward pass (meta counts at the planned rows, cpu at one)."""
    tokens: int
    """The longest budget: the first counted length (the second is half of it)."""
    train: TrainConfig
    device: str
    """Where it is counted: "cpu" (real tensors) or "meta"."""

    def of(self, kind: Kind) -> PassFlops:
        """One row through one model run of a batch of `kind` (cached)."""
        return _count_kind(self, kind)

    def forward(self, rows: int, kind: Kind, tokens: int,
                pair_tokens: int | None = None) -> float:
        """FLOPs of one forward + backward of `rows` rows padded to `tokens` (a dilemma
        batch: its first actions; `pair_tokens` its second)."""
        flops = self.of(kind)
        return rows * (flops.at(tokens) + (flops.at(pair_tokens) if kind == PAIRS else 0.0))


def step_flops(config: Config, world: int = 1, params: int | None = None) -> StepFlops:
    """The FLOP model of `config`'s step on one of `world` ranks (nothing counted yet).

    `params`: the model's and trained encoder's parameter count when the caller has them
    built (the trainer), which picks where to count without building the meta model.
    """
    encoder = config.data.encoder if config.data.encoder_trainable else None
    if params is None:
        params = sum(p.numel() for m in (meta_model(config.model),
                                         meta_encoder(encoder) if encoder else None)
                     if m is not None for p in m.parameters())
    small = params <= REAL_COUNT_MAX_PARAMS
    # Only the loss weighting changes which operations run; the rest of [train] does not.
    train = TrainConfig(loss_weighting=config.train.loss_weighting)
    return StepFlops(config.model, encoder,
                     1 if small else step_shape(config, world).rows_per_forward,
                     batch_tokens(config), train, "cpu" if small else "meta")


@lru_cache(maxsize=64)
def _count_kind(flops: StepFlops, kind: Kind) -> PassFlops:
    """One row through one model run of a `kind` batch, the trained encoder's run included.

    The encoder is counted on its own, once for every kind: whatever the heads, the
    gradient that reaches its output is the backbone's input gradient, the same dense
    tensor. The model is then counted on token states that need that gradient.
    """
    model = _on_device(flops, lambda m, _encoder, device: _fit_model(m, flops, kind, device))
    return model if flops.encoder is None else model + _count_encoder(flops)


@lru_cache(maxsize=8)
def _count_encoder(flops: StepFlops) -> PassFlops:
    return _on_device(flops, lambda _model, encoder, device: _fit_encoder(encoder, flops,
                                                                          device))


def _on_device(flops: StepFlops, fit: Callable[..., PassFlops]) -> PassFlops:
    """`fit(model, encoder, device)` on a CPU copy or on the shared meta models."""
    if flops.device == "cpu":
        model, encoder = _cpu_models(flops.model, flops.encoder)
        with torch.random.fork_rng(devices=[]):     # dropout leaves the run's stream alone
            return fit(model, encoder, torch.device("cpu"))
    model = meta_model(flops.model)
    encoder = meta_encoder(flops.encoder) if flops.encoder is not None else None
    with _DRY_RUN:                  # the cached meta models are shared with the forecast
        layers = model.backbone.transformer
        checkpointing, layers.checkpoint_layers = layers.checkpoint_layers, False
        try:
            return fit(model, encoder, META)
        finally:
            layers.checkpoint_layers = checkpointing


@lru_cache(maxsize=2)
def _cpu_models(cfg: ModelConfig, encoder: str | None) -> tuple[UnifiedModel, nn.Module | None]:
    """A CPU copy of the model (and trained encoder) to count on; its weights are random,
    drawn from a forked RNG, as FLOPs depend on shapes alone."""
    with torch.random.fork_rng(devices=[]):
        return (UnifiedModel(cfg, ExecutionMode.TRAINING).train(),
                encoder_from_config(encoder, torch.device("cpu")) if encoder else None)


def _lengths(flops: StepFlops) -> tuple[int, int]:
    return flops.tokens, max(1, flops.tokens // 2)


def _fit_model(model: UnifiedModel, flops: StepFlops, kind: Kind,
               device: torch.device) -> PassFlops:
    pairs = kind == PAIRS

    def count(length: int) -> list[tuple[str, int]]:
        batch = meta_batch(model.config, flops.rows, length, pairs, False, device,
                           None if pairs else kind)
        states = ([t.requires_grad_() for t in (batch.inputs, batch.pair_inputs)
                   if t is not None] if flops.encoder is not None else [])
        return count_calls(step_loss(model, None, batch, flops.train),
                           [*_trained(model), *states])

    runs = flops.rows * (2 if pairs else 1)     # a dilemma batch: two model runs per row
    return _per_row(fit_calls(*(count(n) for n in _lengths(flops)), *_lengths(flops)), runs)


def _fit_encoder(encoder: nn.Module, flops: StepFlops, device: torch.device) -> PassFlops:
    def count(length: int) -> list[tuple[str, int]]:
        batch = meta_batch(flops.model, flops.rows, length, token_ids=True, device=device)
        states = encoder_states(encoder)
        return count_calls(lambda: states(batch.inputs, batch.mask).sum(), _trained(encoder))

    return _per_row(fit_calls(*(count(n) for n in _lengths(flops)), *_lengths(flops)),
                    flops.rows)


def _trained(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


class _Calls(TorchDispatchMode):
    """FLOPs of each operation in order, by FlopCounterMode's own formulas (its registry),
    without its per-module bookkeeping, which the polynomial does not need."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.calls.append((str(func._overloadpacket), int(formula(*args, **kwargs,
                                                                       out_val=out))))
        return out


def count_calls(step: Callable[[], torch.Tensor],
                params: list[nn.Parameter]) -> list[tuple[str, int]]:
    """(operation, FLOPs) of each counted call of `step` and its backward to `params`."""
    recorder = _Calls()
    with sdpa_kernel(SDPBackend.MATH), recorder:
        torch.autograd.grad(step(), params, allow_unused=True)
    return recorder.calls


class FlopCountError(RuntimeError):
    """The step's operations differ between the two counted lengths: no polynomial."""


def fit_calls(long: list[tuple[str, int]], short: list[tuple[str, int]],
              long_tokens: int, short_tokens: int) -> PassFlops:
    """The polynomial in L of counts at two lengths, call by call (module docstring)."""
    if [op for op, _ in long] != [op for op, _ in short] or long_tokens == short_tokens:
        raise FlopCountError(f"the step's operations at {long_tokens} and {short_tokens} "
                             f"tokens differ")
    terms = [0.0, 0.0, 0.0]
    for (_, f_long), (_, f_short) in zip(long, short, strict=True):
        power = next((p for p in range(3)
                      if f_long * short_tokens**p == f_short * long_tokens**p), None)
        if power is not None:
            terms[power] += f_long / long_tokens**power
        else:
            slope = (f_long - f_short) / (long_tokens - short_tokens)
            terms[1] += slope
            terms[0] += f_long - slope * long_tokens
    return PassFlops(*terms)


def _per_row(flops: PassFlops, rows: int) -> PassFlops:
    return PassFlops(*(getattr(flops, f.name) / rows for f in dataclasses.fields(flops)))
