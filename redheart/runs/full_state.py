"""Whole (unsharded) model and optimizer state for checkpoints of sharded runs.

An FSDP2 run holds each tensor as a DTensor shard. Checkpoints are written
in the single-process format (safetensors of full tensors, an id-keyed
optimizer state) so that `--resume` works with any number of processes,
one included. Gathering is a collective: every rank walks the same tensors
in the same order, and only rank 0 keeps the CPU copies.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn


class RankZeroReads(Protocol):
    """A sharded job loading a checkpoint: rank 0 reads the files, the others receive
    (train/distributed.py's DistContext)."""

    @property
    def is_main(self) -> bool: ...
    def from_main(self, value: Any) -> Any: ...


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


def load_model_state(module: nn.Module, tensors: dict[str, torch.Tensor] | None,
                     from_rank0: bool = False) -> None:
    """Load full tensors into a (possibly sharded) module; `from_rank0`: only rank 0 has
    them (the others pass None) and each tensor is broadcast and sharded in turn."""
    if not any(_is_dtensor(p) for p in module.parameters()):
        module.load_state_dict(tensors)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    set_model_state_dict(module, tensors or {}, options=StateDictOptions(
        full_state_dict=True, broadcast_from_rank0=from_rank0))


def load_optimizer_state(optimizer: Any, state: dict[str, Any] | None,
                         ranks: RankZeroReads | None = None) -> None:
    """Load an id-keyed full optimizer state, sharding each tensor like its parameter.

    With `ranks`, only rank 0 holds `state`: the others learn its layout
    (shapes, steps, param groups), stand empty tensors in for the values, and
    `distribute_tensor` scatters rank 0's values into every rank's shard.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not any(_is_dtensor(p) for p in params):
        optimizer.load_state_dict(state)
        return
    from torch.distributed.tensor import distribute_tensor

    if ranks is not None:
        layout = ranks.from_main(_layout(state) if ranks.is_main else None)
        if not ranks.is_main:
            state = _stand_ins(layout)
    assert state is not None
    sharded: dict[int, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        param = params[int(index)]
        sharded[index] = {   # src_data_rank=0: every rank's shard comes from rank 0's tensor
            key: distribute_tensor(value.to(param.device), param.device_mesh, param.placements,
                                   src_data_rank=0)
            if isinstance(value, torch.Tensor) and value.shape == param.shape else value
            for key, value in entries.items()}
    optimizer.load_state_dict({"state": sharded, "param_groups": state["param_groups"]})


def _layout(value: Any) -> Any:
    """`value` with each full-size tensor replaced by its (shape, dtype); small ones (a
    step count) kept, since every rank needs their values."""
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.dtype) if value.dim() else value
    if isinstance(value, dict):
        return {k: _layout(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_layout(v) for v in value]
    return value


def _stand_ins(layout: Any) -> Any:
    if isinstance(layout, tuple) and len(layout) == 3 and layout[0] == "tensor":
        return torch.empty(layout[1], dtype=layout[2])
    if isinstance(layout, dict):
        return {k: _stand_ins(v) for k, v in layout.items()}
    if isinstance(layout, list):
        return [_stand_ins(v) for v in layout]
    return layout
