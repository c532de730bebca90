"""Per-module gradient norms, read once for the report, the non-finite check and clipping."""

from __future__ import annotations

import torch

from redheart.train.distributed import local_tensor


class ModuleGradients:
    """The gradients of a step, grouped by the top-level module that owns each parameter."""

    def __init__(self, modules: dict[str, torch.nn.Module]) -> None:
        self._names = list(modules)
        self._owned = [(i, p) for i, m in enumerate(modules.values()) for p in m.parameters()]
        """(module index, parameter): which module each gradient belongs to."""

    def norms(self, sharded: bool) -> tuple[dict[str, float], list[torch.Tensor], torch.Tensor]:
        """Gradient norm per module, the gradients, and their total norm, in one fused pass.

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
            return {}, [], torch.zeros(())
        squares = torch.stack(torch._foreach_norm(grads)).float() ** 2
        if sharded:   # each rank holds a shard of every gradient
            torch.distributed.all_reduce(squares)
        zero = (squares == 0).tolist()
        if any(zero):
            for param, untouched in zip(params, zero, strict=True):
                if untouched:
                    param.grad = None
            kept = [i for i, untouched in enumerate(zero) if not untouched]
            owners, grads = [owners[i] for i in kept], [grads[i] for i in kept]
            squares = squares[kept]
        per_module = torch.zeros(len(self._names), device=squares.device)
        per_module.index_add_(0, torch.tensor(owners, dtype=torch.long, device=squares.device),
                              squares)
        values = per_module.sqrt().tolist()
        norms = {self._names[i]: values[i] for i in sorted(set(owners))}
        return norms, grads, per_module.sum().sqrt()


def clip(grads: list[torch.Tensor], norm: float, max_norm: float) -> None:
    """Scale the gradients to a total norm of at most `max_norm` (0: no clipping).

    clip_grads_with_norm_'s arithmetic on plain shards: FSDP2's DTensors and
    the already all-reduced total norm do not mix in one foreach call.
    """
    if max_norm > 0 and grads:
        coefficient = max_norm / (norm + 1e-6)
        if coefficient < 1.0:
            torch._foreach_mul_(grads, coefficient)
