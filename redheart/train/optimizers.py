"""The optimizers the memory savers choose between.

- AdamW, fused on CUDA unless `memory.fused_adamw = false` (then foreach,
  which briefly needs 4 B/param more for sqrt(v)).
- 8-bit AdamW from bitsandbytes (`memory.optimizer = "adamw8bit"`).
- Host-offloaded AdamW for the analyzers (`memory.offload_analyzer_optimizer`):
  their fp32 master copy, moments and update live in CPU memory; the GPU
  keeps only the weights and gradients, in the spirit of ZeRO-Offload.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from redheart.config import Config
from redheart.errors import RedHeartError
from redheart.model.catalog import ANALYZER_OF_TASK


def param_groups(params: Iterable[nn.Parameter], weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on biases, norms and the uncertainty log-variances (1-D tensors)."""
    decay, no_decay = [], []
    for param in params:
        (decay if param.dim() >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def _adamw(groups: list[dict[str, Any]], config: Config, device: torch.device):
    t, m = config.train, config.memory
    if m.optimizer == "adamw8bit":
        if device.type != "cuda":
            raise RedHeartError(f"{config.source}: [memory] optimizer = \"adamw8bit\" needs a "
                                f"CUDA device; use optimizer = \"adamw\" on CPU")
        try:
            import bitsandbytes as bnb
        except ImportError as exc:
            raise RedHeartError(f"{config.source}: [memory] optimizer = \"adamw8bit\" needs the "
                                f"bitsandbytes package ({exc}); pip install bitsandbytes or "
                                f"set optimizer = \"adamw\"") from None
        return bnb.optim.AdamW8bit(groups, lr=t.lr, betas=t.betas)
    fused = device.type == "cuda" and m.fused_adamw
    return torch.optim.AdamW(groups, lr=t.lr, betas=t.betas, fused=fused,
                             foreach=None if fused else device.type == "cuda")


class HostOffloadedAdamW:
    """AdamW whose state for some parameters lives in host memory.

    The trainer sets `lr` through `param_groups` and calls step/zero_grad,
    and checkpoints read `state_dict`, exactly as with a torch optimizer.
    """

    def __init__(self, device_part: torch.optim.Optimizer | None,
                 offloaded: list[nn.Parameter], groups_of: list[dict[str, Any]],
                 config: Config) -> None:
        self.device_part = device_part
        self.offloaded = offloaded
        self.host_params = [nn.Parameter(p.detach().to("cpu", copy=True)) for p in offloaded]
        host_of = {id(p): h for p, h in zip(offloaded, self.host_params, strict=True)}
        host_groups = [{**g, "params": [host_of[id(p)] for p in g["params"]]} for g in groups_of]
        self.host_part = torch.optim.AdamW(host_groups, lr=config.train.lr,
                                           betas=config.train.betas)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        device_groups = self.device_part.param_groups if self.device_part else []
        return device_groups + self.host_part.param_groups

    @torch.no_grad()
    def step(self) -> None:
        if self.device_part is not None:
            self.device_part.step()
        for param, host in zip(self.offloaded, self.host_params, strict=True):
            host.grad = None if param.grad is None else param.grad.to("cpu")
        self.host_part.step()
        for param, host in zip(self.offloaded, self.host_params, strict=True):
            param.copy_(host, non_blocking=True)

    def zero_grad(self, set_to_none: bool = True) -> None:
        if self.device_part is not None:
            self.device_part.zero_grad(set_to_none=set_to_none)
        for param in self.offloaded:
            param.grad = None
        self.host_part.zero_grad(set_to_none=True)

    def state_dict(self) -> dict[str, Any]:
        return {"device": self.device_part.state_dict() if self.device_part else {},
                "host": self.host_part.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state) != {"device", "host"}:
            raise ValueError("this optimizer state was saved without "
                             "memory.offload_analyzer_optimizer; resume with the same setting")
        if self.device_part is not None:
            self.device_part.load_state_dict(state["device"])
        self.host_part.load_state_dict(state["host"])
        for param, host in zip(self.offloaded, self.host_params, strict=True):
            host.data.copy_(param.detach().to("cpu"))


def build_optimizer(model: nn.Module, extra: dict[str, nn.Module], config: Config,
                    device: torch.device):
    """The optimizer the config's memory savers ask for."""
    modules = dict(model.named_children()) | extra
    wd = config.train.weight_decay
    if not config.memory.offload_analyzer_optimizer:
        params = [p for m in modules.values() for p in m.parameters()]
        return _adamw(param_groups(params, wd), config, device)
    analyzers = set(ANALYZER_OF_TASK.values())
    kept = [p for n, m in modules.items() if n not in analyzers for p in m.parameters()]
    moved = [p for n, m in modules.items() if n in analyzers for p in m.parameters()]
    device_part = _adamw(param_groups(kept, wd), config, device) if kept else None
    return HostOffloadedAdamW(device_part, moved, param_groups(moved, wd), config)
