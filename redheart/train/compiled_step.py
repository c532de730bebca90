"""`[train] compile`: the model's forward (and its backward) through torch.compile.

The GPU step of the 330M model is many small kernels launched one by one
from Python; compiling fuses them. Three things make that safe to turn on:

- Shapes repeat. Length buckets give every batch its own padded length,
  and every new length would cost a compilation (minutes for this model).
  A compiled step pads each batch to the next of a few graph lengths
  (powers of two, and the longest budget); the model ignores padding.
- The model is compiled in place (`nn.Module.compile`), so parameter
  names, checkpoints, DDP and FSDP2 wrapping are the same as eager.
- A compilation that fails is not fatal and not silent: the step is run
  again eagerly, compilation stays off for the run, and a `warning` event
  says why.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from redheart.data.batching import Batch

COMPILE_BACKEND: str | Callable = "inductor"
"""torch.compile's backend. Tests swap it: inductor's C++ code generation takes about a
minute on two CPU cores for even the smallest model, and that one is measured by
`bench/compile_cpu.py`."""

SHORTEST_GRAPH = 32
"""Tokens of the shortest graph length: below this a graph saves less than it costs."""

COMPILE_ERRORS = (torch._dynamo.exc.TorchDynamoException,)
"""What a failed compilation raises (its backend's errors arrive wrapped in these)."""


def graph_lengths(longest: int) -> list[int]:
    """Padded lengths a compiled step runs at: powers of two up to `longest`, and it."""
    lengths, length = [], SHORTEST_GRAPH
    while length < longest:
        lengths.append(length)
        length *= 2
    return [*lengths, longest]


def padded_to(batch: Batch, lengths: list[int]) -> Batch:
    """`batch` with its tokens padded (mask False, inputs 0) to the next graph length."""
    current = batch.inputs.shape[1]
    target = next((n for n in lengths if n >= current), current)
    if target == current:
        return batch

    def pad(x: torch.Tensor | None) -> torch.Tensor | None:
        if x is None:
            return None
        widths = [0, 0] * (x.dim() - 2) + [0, target - x.shape[1]]
        return F.pad(x, widths)

    return Batch(pad(batch.inputs), pad(batch.mask), batch.targets, batch.present,
                 pad(batch.pair_inputs), pad(batch.pair_mask), batch.less_ethical,
                 batch.source)


class StepCompiler:
    """Compiles the model when asked, pads batches for it, and falls back once on failure."""

    def __init__(self, model: nn.Module, enabled: bool, longest: int,
                 warn: Callable[[str], None]) -> None:
        self.model = model
        self.active = enabled
        self.lengths = graph_lengths(longest)
        self._warn = warn
        if enabled:
            model.compile(backend=COMPILE_BACKEND)

    def prepare(self, batch: Batch) -> Batch:
        """The batch as the compiled model runs it (as it is when eager)."""
        return padded_to(batch, self.lengths) if self.active else batch

    def fall_back(self, error: Exception) -> None:
        """Run eagerly from now on, and say so (the caller repeats the failed step)."""
        self.active = False
        self.model._compiled_call_impl = None   # what nn.Module.compile set
        cause = getattr(error, "inner_exception", None) or error.__cause__ or error
        text = str(cause).strip()
        first = text.splitlines()[0][:300] if text else ""
        self._warn(f"torch.compile failed ({type(cause).__name__}: {first}); "
                   f"training eagerly. Set [train] compile = false to skip the attempt")
