"""How a global batch divides over the ranks of a torchrun job (torch-free).

The trainer slices batches with it and the memory planner forecasts one
rank with it, so both agree on what one GPU holds.
"""

from __future__ import annotations

import dataclasses

from redheart.config import Config, accumulation_steps


def rank_accumulation(config: Config, world: int) -> int:
    """Micro-batches per rank: a rank's forward holds as many rows as one process's would.

    `memory.micro_batch` (or batch_size / grad_accum) sets the rows of one
    forward, which is what memory limits; a rank holds batch_size / world
    rows, so it needs proportionally fewer micro-batches.
    """
    total = accumulation_steps(config)
    if world <= 1:
        return total
    rows_per_forward = -(-config.train.batch_size // total)
    rank_rows = -(-config.train.batch_size // world)
    return max(1, -(-rank_rows // rows_per_forward))


def rank_config(config: Config, world: int) -> Config:
    """The config one rank trains, for its memory forecast: its rows, its micro-batches."""
    if world <= 1:
        return config
    rows = -(-config.train.batch_size // world)
    return dataclasses.replace(
        config, train=dataclasses.replace(config.train, batch_size=rows,
                                          grad_accum=rank_accumulation(config, world)),
        memory=dataclasses.replace(config.memory, micro_batch=0))
