"""What the trainer measures at an epoch's end: task losses and the regret threshold.

Both run every row of their sources once through the step module (under
FSDP2 it gathers the shards, so every rank evaluates), in eval mode and
without gradients, which the caller sets.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from redheart.data.batching import Batch, BatchPlan, Featurizer, loader, source_lengths
from redheart.data.sources import SourceData
from redheart.train.regret_decision import best_threshold
from redheart.train.trained_rows import task_rows


def every_row_once(sources: list[SourceData], featurizer: Featurizer,
                   batch_size: int) -> Iterable[Batch]:
    """Batches of every row in a fixed order: the same figures every epoch and rank."""
    plan = BatchPlan(source_lengths(sources, featurizer), [1.0] * len(sources), batch_size, 0)
    return loader(sources, featurizer, plan.every_row_once())


def task_means(step_module: torch.nn.Module, sources: list[SourceData],
               featurizer: Featurizer, batch_size: int) -> dict[str, float]:
    """Each task's mean loss over its own labelled rows, and their sum as `loss`.

    A batch's task loss is already a mean over the batch's rows that carry
    that task's target, so it is weighted by that count (dilemma pairs by
    their number, as "pairs", apart from the anecdotes' hedonic loss).
    `loss`, which picks `best`, is the plain sum of these means: every task
    counts the same, however many rows it has.
    """
    sums: dict[str, float] = {}
    rows: dict[str, int] = {}
    for batch in every_row_once(sources, featurizer, batch_size):
        losses = step_module(batch, None, 1.0)["losses"]
        for task, count in task_rows(batch).items():
            if task in losses or (task == "pairs" and "bentham" in losses):
                value = losses["bentham" if task == "pairs" else task]
                sums[task] = sums.get(task, 0.0) + float(value) * count
                rows[task] = rows.get(task, 0) + count
    metrics = {task: total / rows[task] for task, total in sums.items() if rows[task]}
    metrics["loss"] = sum(metrics.values())
    return metrics


def regret_threshold(step_module: torch.nn.Module, sources: list[SourceData],
                     featurizer: Featurizer, batch_size: int) -> float | None:
    """The WRONG threshold on predicted regret that maximises F1 on the sources' rows."""
    predicted: list[float] = []
    truth: list[float] = []
    for batch in every_row_once(sources, featurizer, batch_size):
        regret = step_module(batch, None, 1.0, True)["regret"]
        rows = batch.present["regret"]
        predicted += regret[rows.to(regret.device)].float().tolist()
        truth += batch.targets["regret"][rows].tolist()
    return best_threshold(np.asarray(predicted), np.asarray(truth) > 0.5)
