"""`[train] compile`: a step's forward and losses (and their backward) through torch.compile.

An eager GPU step of the 330M model is thousands of small kernels, each
launched from Python (`bench/step_ops.py` counts them: the losses are the
largest single owner); compiling fuses them. What is compiled is the whole FORWARD +
COMPUTE of a micro-batch (`Trainer._step_losses`: model, task losses and
their combination), one graph with no breaks. Three things make it safe:

- Shapes vary without new graphs. Length buckets give every batch its own
  padded length; the graph is compiled for dynamic shapes, and each batch's
  tokens (a dilemma batch's second actions on their own) are padded to the
  next of a few graph lengths: powers of two, and the longest budget. The
  model ignores padding. Padding to multiples of 8 instead (less wasted
  work) made inductor's compiled backward fail a stride assertion on CPU
  ("expected size 16==16, stride 2048==3072"), with torch 2.13; powers of
  two ran 24 steps equal to eager (`bench/compile_cpu.py`). A new graph comes with each new batch
  structure (a source's set of targets, dilemma pairs, evaluation), so the
  recompile limit is raised to RECOMPILE_LIMIT: torch's default of 8 would
  send later structures eagerly with nothing but a log line.
- The model itself is untouched: parameter names, checkpoints, DDP and the
  optimizer see the same modules as eager.
- A compilation that fails is not fatal and not silent: the step is run
  again eagerly, compilation stays off for the run, and a `warning` event
  says why.

A torchrun job trains eagerly and says so: FSDP2's units unshard in hooks
the graph would have to trace, and a compilation failing inside DDP's
backward leaves its reducer mid-step, which the eager retry cannot undo.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from redheart.data.batching import Batch

COMPILE_BACKEND: str | Callable = "inductor"
"""torch.compile's backend. Tests swap it: inductor's C++ code generation takes over a
minute on two CPU cores for even the quickstart model (`bench/compile_cpu.py` compares
it with eager)."""

SHORTEST_GRAPH = 32
"""Tokens of the shortest graph length: below this a graph saves less than it costs."""

RECOMPILE_LIMIT = 64
"""Graphs torch may compile per function: one per batch structure, a few per run."""


def is_compile_error(error: BaseException) -> bool:
    """Whether `error` is a failed compilation (its backend's errors arrive wrapped in
    dynamo's). Asked only of a step that was compiled, so that importing the trainer does
    not import torch._dynamo: 2-2.5 s of CPU on a 2-core machine, for every command that
    imports the trainer and compiles nothing."""
    return isinstance(error, torch._dynamo.exc.TorchDynamoException)


def graph_lengths(longest: int) -> list[int]:
    """Padded lengths a compiled step runs at: powers of two up to `longest`, and it."""
    lengths, length = [], SHORTEST_GRAPH
    while length < longest:
        lengths.append(length)
        length *= 2
    return [*lengths, longest]


def _pad_tokens(x: torch.Tensor | None, tokens: int) -> torch.Tensor | None:
    if x is None or x.shape[1] == tokens:
        return x
    return F.pad(x, [0, 0] * (x.dim() - 2) + [0, tokens - x.shape[1]])


def padded(batch: Batch, lengths: list[int]) -> Batch:
    """`batch` with its tokens padded (mask False, inputs 0) to the next graph length; a
    dilemma batch's second actions, collated on their own, to their own."""
    def target(tokens: int) -> int:
        return next((n for n in lengths if n >= tokens), tokens)

    first = target(batch.inputs.shape[1])
    second = target(batch.pair_inputs.shape[1]) if batch.pair_inputs is not None else 0
    return Batch(_pad_tokens(batch.inputs, first), _pad_tokens(batch.mask, first),
                 batch.targets, batch.present, _pad_tokens(batch.pair_inputs, second),
                 _pad_tokens(batch.pair_mask, second), batch.less_ethical, batch.source)


def graphs_compiled() -> int:
    """Graphs torch.compile has compiled in this process: a step that raised it compiled
    (benchmarks keep such steps out of their timings)."""
    return torch._dynamo.utils.counters["stats"]["unique_graphs"]


class StepCompiler:
    """Runs a step function compiled when asked, with padded batches; eager after a failure."""

    def __init__(self, enabled: bool, device: torch.device, longest: int,
                 warn: Callable[[str], None]) -> None:
        self.active = enabled
        self.device = device
        self.lengths = graph_lengths(longest)
        self._warn = warn
        self._compiled: dict[Callable, Callable] = {}

    def prepare(self, batch: Batch) -> Batch:
        """The batch as the compiled step runs it: on the device already (a copy from the
        host inside the graph would keep it from being a CUDA graph), then padded."""
        if not self.active:
            return batch
        return padded(batch.to(self.device, non_blocking=True), self.lengths)

    def run(self, step: Callable[..., Any], model: nn.Module, batch: Batch,
            *args: Any) -> Any:
        """`step(model, batch, *args)`, compiled while compilation is on."""
        if not self.active:
            return step(model, batch, *args)
        if step not in self._compiled:
            torch._dynamo.config.recompile_limit = max(
                torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
            # dynamic: one graph serves every length and row count; what still makes a new
            # graph is a batch's structure (which targets a source has, dilemma pairs)
            self._compiled[step] = torch.compile(step, backend=COMPILE_BACKEND, dynamic=True)
        return self._compiled[step](model, self.prepare(batch), *args)

    def fall_back(self, error: Exception) -> None:
        """Run eagerly from now on, and say so (the caller repeats the failed step)."""
        self.active = False
        self._compiled.clear()
        cause = getattr(error, "inner_exception", None) or error.__cause__ or error
        text = str(cause).strip()
        first = text.splitlines()[0][:300] if text else ""
        self._warn(f"torch.compile failed ({type(cause).__name__}: {first}); "
                   f"training eagerly. Set [train] compile = false to skip the attempt")

    def refuse(self, reason: str) -> None:
        """Compilation asked for where it cannot run: eager, with a warning."""
        if self.active:
            self.active = False
            self._warn(f"[train] compile = true is not used: {reason}; training eagerly")
