"""FORWARD and COMPUTE as plain functions of (model, batch).

The trainer runs them on real batches; the memory forecast runs the very same
functions on meta tensors to measure what autograd saves, so the forecast
cannot drift from what training does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from redheart.config import TrainConfig
from redheart.data.batching import Batch
from redheart.model.unified import UnifiedModel
from redheart.tasks import TASKS
from redheart.train.losses import (
    MOE_AUX_WEIGHT,
    BatchShare,
    LossSettings,
    bradley_terry,
    task_losses,
)

StatesFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(inputs, mask) -> token states: identity for cached states, the encoder for token ids."""


def cached_states(inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return inputs


def forward_stage(model: UnifiedModel, batch: Batch,
                  states: StatesFn = cached_states) -> dict[str, Any]:
    """Model outputs for a batch; a dilemma batch runs both actions of each pair."""
    outputs = model(states(batch.inputs, batch.mask), batch.mask)
    if batch.pair_inputs is not None:
        second = model(states(batch.pair_inputs, batch.pair_mask), batch.pair_mask)
        outputs = {"pair_first": outputs["hedonic_value"],
                   "pair_second": second["hedonic_value"],
                   "moe_aux_loss": (outputs["moe_aux_loss"] + second["moe_aux_loss"]) / 2}
    return {"outputs": outputs, "batch": batch}


def compute_stage(forward: dict[str, Any], settings: LossSettings,
                  share: BatchShare | None = None) -> dict[str, torch.Tensor]:
    """Masked task losses (Bradley-Terry for dilemma pairs) plus the MoE balance term.

    `share` marks the batch as a slice of a larger one (see BatchShare); a
    pair loss is a plain mean, which the slice's row share already weighs.
    """
    outputs, batch = forward["outputs"], forward["batch"]
    if batch.pair_inputs is not None:
        return {"bentham": bradley_terry(outputs["pair_first"], outputs["pair_second"],
                                         batch.less_ethical),
                "moe": MOE_AUX_WEIGHT * outputs["moe_aux_loss"].float()}
    return task_losses(outputs, batch, settings, share)


def combine_losses(model: UnifiedModel, losses: dict[str, torch.Tensor],
                   train: TrainConfig) -> torch.Tensor:
    """The scalar that is back-propagated: weighted task losses plus the MoE term."""
    tasks = {k: v for k, v in losses.items() if k in TASKS}
    if train.loss_weighting == "uncertainty":
        total = model.combine_task_losses(tasks)
    else:
        total = sum(getattr(train.task_weights, k) * v for k, v in tasks.items())
    return total + losses.get("moe", 0.0)
