"""Peak training memory, per module and category, before anything is allocated.

Weights, gradients and optimizer state follow from parameter counts and the
chosen savers; activations and autocast's weight copies are measured by a
meta-device dry run of FORWARD + COMPUTE (`activations.py`); the CUDA
context is the calibratable `memory.context_mb`. A trained text encoder
([data] encoder_trainable) is one more row, `encoder`, counted the same way
in fp32, as `TextEncoder` loads it (`encoder_dry_run.py`). The total is the peak of
one step, from a backward profile: backward visits the modules in reverse
forward order, and as it passes a module that module's activations are freed
and its gradients appear, so the peak is the largest "gradients of the
modules already done + activations of the modules still to do". With
gradient accumulation every gradient already exists when a micro-batch's
forward starts. The optimizer step's transient comes after backward, next
to all gradients.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from torch import nn

from redheart.config import Config
from redheart.memory.activations import LOSSES, SavedBytes, module_owners
from redheart.memory.dry_run import (
    batch_tokens,
    check_trained_encoder,
    has_pairs,
    measure_layer_recompute,
    measure_step,
    meta_model,
    trained_encoder,
)
from redheart.memory.encoder_dry_run import ENCODER
from redheart.model.catalog import ANALYZER_OF_TASK, BACKBONE_PARTS, MODULES
from redheart.step_shape import step_shape
from redheart.units import MIB

CATEGORIES = ("weights", "gradients", "optimizer", "optimizer_step", "autocast_cache",
              "activations", "context")
FP32 = 4
ADAMW_STATE = 2 * FP32
"""exp_avg and exp_avg_sq in fp32."""
ADAMW8BIT_STATE = 2 + 2 * 4 / 256
"""bitsandbytes: two uint8 states plus an fp32 absmax per block of 256."""
BNB_MIN_8BIT_SIZE = 4096
"""bitsandbytes keeps 32-bit state for tensors smaller than this."""
ANALYZERS = frozenset(ANALYZER_OF_TASK.values())


@dataclass(frozen=True)
class ModuleForecast:
    name: str
    params: int
    enabled: bool
    essential: bool
    bytes: dict[str, int]


@dataclass(frozen=True)
class Forecast:
    """The forecast of one resolved config on one target device."""

    device: str
    bf16: bool
    rows: int
    tokens: int
    modules: tuple[ModuleForecast, ...]
    context: int
    order: tuple[str, ...] = ()
    """Modules in forward order, for the backward profile."""
    accumulating: bool = False
    ranks: int = 1
    """Processes of the job; the figures are per rank (per GPU)."""
    strategy: str = "none"
    """"none", "ddp" or "fsdp2" (weights, gradients and optimizer state sharded)."""
    gather: int = 0
    """FSDP2: the unsharded weights and gradients of the units being gathered at once."""

    def category_totals(self) -> dict[str, int]:
        totals = {c: sum(m.bytes.get(c, 0) for m in self.modules) for c in CATEGORIES}
        totals["context"] = self.context
        if self.gather:
            totals["fsdp_gather"] = self.gather
        return totals

    @property
    def total(self) -> int:
        c = self.category_totals()
        return (c["weights"] + c["optimizer"] + c["context"] + self.gather
                + max(self.backward_peak(), c["gradients"] + c["optimizer_step"]))

    def backward_peak(self) -> int:
        """Most gradient + activation bytes alive at once during FORWARD and backward."""
        grads = {m.name: m.bytes.get("gradients", 0) for m in self.modules if m.enabled}
        held = {m.name: m.bytes.get("activations", 0) + m.bytes.get("autocast_cache", 0)
                for m in self.modules if m.enabled}
        if self.accumulating:     # earlier micro-batches left every gradient in place
            return sum(grads.values()) + sum(held.values())
        order = [n for n in self.order if n in held] + [n for n in held if n not in self.order]
        peak = 0
        for k in range(len(order) + 1):      # backward is at order[k - 1] .. done
            done, todo = order[k:], order[:k]
            peak = max(peak, sum(grads[n] for n in done) + sum(held[n] for n in todo))
        return peak

    def largest(self, count: int = 3) -> list[tuple[str, int]]:
        sizes = [(m.name, sum(m.bytes.values())) for m in self.modules if m.enabled]
        return sorted(sizes, key=lambda item: -item[1])[:count]

    def as_json(self) -> dict[str, Any]:
        return {
            "forecast": {**self.category_totals(), "total": self.total},
            # beside the categories, not among them: readers sum those
            "backward_peak": self.backward_peak(),
            "ranks": self.ranks, "strategy": self.strategy,
            "modules": [{"name": m.name, "params": m.params, "enabled": m.enabled,
                         "essential": m.essential, "forecast": dict(m.bytes)}
                        for m in self.modules],
        }


def uses_bf16(config: Config, device: str) -> bool:
    precision = config.train.precision
    return precision == "bf16" or (precision == "auto" and device == "cuda")


def forecast(config: Config, device: str, ranks: int = 1, strategy: str = "none") -> Forecast:
    """Forecast for `device` ("cuda" or "cpu"), per rank of a `ranks`-process job; cached,
    so a repeated toggle costs nothing."""
    check_trained_encoder(config)
    if ranks <= 1:
        return _forecast(_memory_key(config), device)
    return _per_rank(_memory_key(config), device, ranks, strategy)


@lru_cache(maxsize=16)
def _per_rank(config: Config, device: str, ranks: int, strategy: str) -> Forecast:
    """One rank's forecast: its slice of the batch, and with FSDP2 a 1/ranks shard of
    every weight, gradient and optimizer state plus the units gathered at a time."""
    from redheart.train.distributed import fsdp_unit_sizes

    alone = _forecast(config, device, ranks)
    if strategy != "fsdp2":
        return dataclasses.replace(alone, ranks=ranks, strategy=strategy)
    sharded = ("weights", "gradients", "optimizer", "optimizer_step")
    modules = tuple(dataclasses.replace(m, bytes={
        k: -(-v // ranks) if k in sharded else v for k, v in m.bytes.items()})
        for m in alone.modules)
    largest = FP32 * max(fsdp_unit_sizes(meta_model(config.model)))
    encoder = next((m for m in alone.modules if m.name == ENCODER), None)
    if encoder is not None:          # the trained encoder is one more unit, gathered whole
        largest = max(largest, encoder.bytes["weights"])
    # the unit computing, the next one prefetched, and the computing unit's
    # unsharded gradients before their reduce-scatter
    return dataclasses.replace(alone, modules=modules, ranks=ranks, strategy=strategy,
                               gather=3 * largest)


def toggle(config: Config, module: str) -> Config:
    """The config with one optional module switched.

    Raises ConfigError with the check's own words when that breaks a dependency: the
    module that needs it or the key that does (train.loss_weighting), so the console can
    say which, without the profile's path in front (the profile is not being edited)."""
    from redheart.config import validate
    from redheart.errors import ConfigError
    from redheart.model.catalog import ExecutionMode
    from redheart.model.selection import enabled_modules

    modules = set(config.model.modules) ^ {module}
    model = dataclasses.replace(config.model, modules=tuple(
        spec.name for spec in MODULES if spec.name in modules))
    result = dataclasses.replace(config, model=model)
    try:
        validate(result)
        enabled_modules(model, ExecutionMode.TRAINING)
    except ConfigError as exc:
        raise ConfigError(str(exc).removeprefix(f"{config.source}: ")) from exc
    return result


def toggled(config: Config, module: str) -> Config | None:
    """The config with one optional module switched, or None if that breaks a dependency."""
    from redheart.errors import ConfigError

    try:
        return toggle(config, module)
    except ConfigError:
        return None


def prefetch_toggles(config: Config, device: str) -> int:
    """Forecast every single-module toggle of `config` ahead of the user.

    A cold forecast of the 330M model is a dry run of a second or so; the
    console calls this in a background worker after each change, so the
    toggle the user makes next is a cache hit. Returns how many it computed.
    """
    from redheart.model.catalog import OPTIONAL_MODULES

    done = 0
    for module in OPTIONAL_MODULES:
        other = toggled(config, module)
        if other is not None:
            forecast(other, device)
            done += 1
    return done


def _memory_key(config: Config) -> Config:
    """The config with everything that cannot change memory reset, for the cache key."""
    return dataclasses.replace(config, run=type(config.run)(), source="<forecast>",
                               checkpoint=type(config.checkpoint)())


@lru_cache(maxsize=64)
def _forecast(config: Config, device: str, ranks: int = 1) -> Forecast:
    """One rank's activations and state, before FSDP2's sharding."""
    bf16 = uses_bf16(config, device)
    saved = measure_step(config, bf16, pairs=False, device=device, world=ranks)
    if has_pairs(config):
        pair = measure_step(config, bf16, pairs=True, device=device, world=ranks)
        if pair.total() > saved.total():
            saved = pair
    activations = dict(saved.activations)
    if config.memory.activation_checkpointing:
        name = "backbone.transformer"
        activations[name] = activations.get(name, 0) + measure_layer_recompute(
            config, bf16, device, world=ranks)
    model = meta_model(config.model)
    owners = module_owners(model)
    cuda = device == "cuda"
    # A trained encoder ([data] encoder_trainable) is one more fp32 AdamW-trained row, in
    # front: the step runs it first. Activation checkpointing leaves it alone, as measured.
    trained = trained_encoder(config)
    rows = ([_module_row(config, ENCODER, trained[ENCODER], True, saved, activations, cuda)]
            if trained else [])
    for spec in BACKBONE_PARTS + MODULES:
        rows.append(_module_row(config, spec.name, owners.get(spec.name), spec.essential,
                                saved, activations, cuda))
    rows.append(ModuleForecast(LOSSES, 0, True, True, {
        "activations": activations.get(LOSSES, 0),
        "autocast_cache": saved.autocast_cache.get(LOSSES, 0)}))
    context = config.memory.context_mb * MIB if cuda else 0
    shape = step_shape(config, ranks)
    return Forecast(device, bf16, shape.rows_per_forward, batch_tokens(config),
                    tuple(rows), context, tuple(saved.order), shape.accumulation_steps > 1)


def _module_row(config: Config, name: str, module: nn.Module | None, essential: bool,
                saved: SavedBytes, activations: dict[str, int], cuda: bool) -> ModuleForecast:
    """One row: fp32 weights and gradients, AdamW state and step temporary from the
    parameter count, and the dry run's measured autocast copies and activations."""
    sizes = [p.numel() for p in module.parameters()] if module is not None else []
    params = sum(sizes)
    counts = {
        "weights": FP32 * params,
        "gradients": FP32 * params,
        "optimizer": _optimizer_bytes(config, name, sizes, cuda),
        "optimizer_step": _step_bytes(config, name, sizes, cuda),
        "autocast_cache": saved.autocast_cache.get(name, 0),
        "activations": activations.get(name, 0),
    }
    return ModuleForecast(name, params, module is not None, essential, counts)


def _offloaded(config: Config, name: str, cuda: bool) -> bool:
    return cuda and config.memory.offload_analyzer_optimizer and name in ANALYZERS


def _optimizer_bytes(config: Config, name: str, sizes: list[int], cuda: bool) -> int:
    if _offloaded(config, name, cuda):
        return 0                       # the state lives in host memory
    if config.memory.optimizer == "adamw8bit":
        return round(sum(ADAMW8BIT_STATE * n if n >= BNB_MIN_8BIT_SIZE else ADAMW_STATE * n
                         for n in sizes))
    return ADAMW_STATE * sum(sizes)


def _step_bytes(config: Config, name: str, sizes: list[int], cuda: bool) -> int:
    """The optimizer step's temporary: foreach AdamW builds sqrt(v) for every tensor at
    once; fused and 8-bit kernels work in place; the CPU loop goes one tensor at a time."""
    if not sizes or _offloaded(config, name, cuda):
        return 0
    if not cuda:
        return FP32 * max(sizes)
    if config.memory.fused_adamw or config.memory.optimizer == "adamw8bit":
        return 0
    return FP32 * sum(sizes)
