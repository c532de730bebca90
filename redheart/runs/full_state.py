"""Whole (unsharded) model and optimizer state for checkpoints of sharded runs.

An FSDP2 run holds each tensor as a DTensor shard. Checkpoints are written
in the single-process format (safetensors of full tensors, an id-keyed
optimizer state) so that `--resume` works with any number of processes,
one included. Gathering is a collective: every rank walks the same tensors
in the same order, and only rank 0 keeps the CPU copies.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _is_dtensor(value: Any) -> bool:
    return hasattr(value, "full_tensor") and hasattr(value, "placements")


def _gathered(value: Any, keep: bool) -> Any:
    """Full CPU copies of every tensor in a nested state (None where not kept)."""
    if isinstance(value, torch.Tensor):
        full = value.full_tensor() if _is_dtensor(value) else value
        return full.detach().to("cpu", copy=True).contiguous() if keep else None
    if isinstance(value, dict):
        return {k: _gathered(v, keep) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_gathered(v, keep) for v in value)
    return value


def full_state(owner: nn.Module | Any, keep: bool = True) -> dict[str, Any] | None:
    """A module's or an optimizer's state_dict with full CPU tensors; None on a rank that
    does not `keep` it (gathering is collective, so every rank still takes part)."""
    state = _gathered(owner.state_dict(), keep)
    return state if keep else None


def load_model_state(module: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Load full tensors into a (possibly sharded) module."""
    if not any(_is_dtensor(p) for p in module.parameters()):
        module.load_state_dict(tensors)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    set_model_state_dict(module, tensors, options=StateDictOptions(full_state_dict=True))


def load_optimizer_state(optimizer: Any, state: dict[str, Any]) -> None:
    """Load an id-keyed full optimizer state, sharding each tensor like its parameter."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not any(_is_dtensor(p) for p in params):
        optimizer.load_state_dict(state)
        return
    from torch.distributed.tensor import distribute_tensor

    sharded: dict[int, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        param = params[int(index)]
        sharded[index] = {
            key: distribute_tensor(value.to(param.device), param.device_mesh, param.placements)
            if isinstance(value, torch.Tensor) and value.shape == param.shape else value
            for key, value in entries.items()}
    optimizer.load_state_dict({"state": sharded, "param_groups": state["param_groups"]})
