"""Per-module gradient norms, read once for the report, the non-finite check and clipping."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from redheart.train.distributed import local_tensor


@dataclass
class StepReading:
    """What a step's one host read brought back."""

    norms: dict[str, float]
    """Gradient norm per module that received a gradient this step."""
    grads: list[torch.Tensor]
    """The gradients left after dropping the exactly-zero ones (what clipping scales)."""
    total_norm: float
    riders: list[float]
    """The values read along with the norms (the step's losses), in their order."""


class ModuleGradients:
    """The gradients of a step, grouped by the top-level module that owns each parameter."""

    def __init__(self, modules: dict[str, torch.nn.Module]) -> None:
        self._names = list(modules)
        self._owned = [(i, p) for i, m in enumerate(modules.values()) for p in m.parameters()]
        """(module index, parameter): which module each gradient belongs to."""

    def read(self, sharded: bool, riders: torch.Tensor) -> StepReading:
        """Gradient norm per module, the gradients and their total norm, in one fused pass,
        and `riders` (float64 values of the step, e.g. its losses) in the same host read.

        On a GPU every host read waits for all the work queued before it: a step
        that read each loss and each norm separately stalled the device once per
        value. Everything the host must know before deciding on the update (the
        non-finite check, clipping, which gradients are untouched) is packed into
        one tensor and read once.

        The same norms serve the report, the non-finite check and clipping, so
        no gradient is read twice. A parameter whose gradient is exactly zero
        (no loss of this batch reached it: a head whose labels the batch
        lacks) gets no gradient at all, so AdamW leaves it and its moments
        alone, as it does for a parameter outside the graph. That also keeps
        FSDP2 (which hands zero gradients to the unused parameters of a unit)
        stepping exactly like one process.
        """
        params, owners, grads = [], [], []
        for owner, param in self._owned:
            if param.grad is not None:
                params.append(param)
                owners.append(owner)
                grads.append(local_tensor(param.grad))
        if not grads:
            return StepReading({}, [], 0.0, riders.tolist())
        squares = torch.stack(torch._foreach_norm(grads)).float() ** 2
        if sharded:   # each rank holds a shard of every gradient
            torch.distributed.all_reduce(squares)
        # An untouched gradient's square is 0: summing it in changes no module's norm.
        per_module = torch.zeros(len(self._names), device=squares.device)
        per_module.index_add_(0, torch.tensor(owners, dtype=torch.long, device=squares.device),
                              squares)
        packed = torch.cat([per_module.sqrt(), per_module.sum().sqrt()[None],
                            (squares == 0).float()]).double()
        values = torch.cat([packed, riders.to(packed.device, torch.float64)]).tolist()
        modules = len(self._names)
        module_norms, total = values[:modules], values[modules]
        untouched = values[modules + 1:modules + 1 + len(grads)]
        kept = [i for i, zero in enumerate(untouched) if not zero]
        for i, zero in enumerate(untouched):
            if zero:
                params[i].grad = None
        norms = {self._names[m]: module_norms[m] for m in sorted({owners[i] for i in kept})}
        return StepReading(norms, [grads[i] for i in kept], total,
                           values[modules + 1 + len(grads):])


def clip(grads: list[torch.Tensor], norm: float, max_norm: float) -> None:
    """Scale the gradients to a total norm of at most `max_norm` (0: no clipping).

    clip_grads_with_norm_'s arithmetic on plain shards: FSDP2's DTensors and
    the already all-reduced total norm do not mix in one foreach call.
    """
    if max_norm > 0 and grads:
        coefficient = max_norm / (norm + 1e-6)
        if coefficient < 1.0:
            torch._foreach_mul_(grads, coefficient)
