"""How one optimizer step's rows divide over ranks and forward passes (torch-free).

`[train] batch_size` rows make one optimizer step. A torchrun job gives each
rank its slice of them; `[memory] micro_batch` (else batch_size / grad_accum)
bounds the rows of one forward pass, which is what memory limits. The memory
planner, the forecast's dry run and the trainer all read the shape from
`step_shape`, so the step that was forecast is the step that runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from redheart.errors import ConfigError

if TYPE_CHECKING:
    from redheart.config import Config


@dataclass(frozen=True)
class StepShape:
    """One rank's share of an optimizer step of a full batch."""

    rows_per_rank: int
    """Rows of the global batch one rank trains (the whole batch in one process)."""
    rows_per_forward: int
    """Rows of one forward pass on one rank: what the dry run measures."""
    accumulation_steps: int
    """Forward passes per rank per optimizer step (gradient accumulation)."""


def step_shape(config: Config, world: int = 1) -> StepShape:
    """The shape of a full batch's step on each of `world` ranks (of a validated config).

    A rank's forward holds as many rows as one process's would: a rank holds
    batch_size / world rows, so it needs proportionally fewer micro-batches.
    The trainer splits the rows it has into `accumulation_steps` parts, so a
    rank's forward may hold fewer rows than one process's when they do not
    divide evenly.
    """
    batch = config.train.batch_size
    micro = config.memory.micro_batch
    forwards = batch // micro if micro else config.train.grad_accum
    if world <= 1:
        return StepShape(batch, -(-batch // forwards), forwards)
    rows_per_rank = -(-batch // world)
    one_process_forward = -(-batch // forwards)
    accumulation = max(1, -(-rows_per_rank // one_process_forward))
    return StepShape(rows_per_rank, -(-rows_per_rank // accumulation), accumulation)


def rank_accumulation(config: Config, world: int) -> int:
    """Micro-batches per rank of a `world`-rank job: what the plan reports."""
    return step_shape(config, world).accumulation_steps


def check_accumulation(config: Config) -> None:
    """`[train] grad_accum` splits the batch into whole forward passes."""
    t = config.train
    if t.batch_size % t.grad_accum:
        raise ConfigError(f"{config.source}: [train] grad_accum = {t.grad_accum} must divide "
                          f"batch_size = {t.batch_size}")


def check_micro_batch(config: Config) -> None:
    """`[memory] micro_batch` (the planner's saver, when set) splits it the same way."""
    batch, micro = config.train.batch_size, config.memory.micro_batch
    if micro and (batch % micro or micro > batch):
        raise ConfigError(f"{config.source}: [memory] micro_batch = {micro} must divide "
                          f"batch_size = {batch}")
