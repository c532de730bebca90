"""COMPUTE stage: masked task losses (architecture.md §7).

Every loss averages over the rows that carry its target (`batch.present`),
so a batch with no regret labels contributes no regret loss rather than a
loss against invented zeros. Deep supervision applies the same loss to the
head-only and analyzer-only predictions, at half weight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from redheart.data.batching import Batch
from redheart.data.example import Example
from redheart.tasks import EKMAN

DEEP_SUPERVISION_WEIGHT = 0.5
MOE_AUX_WEIGHT = 0.01
EXTREME_MARGIN = 0.9
"""Hedonic predictions beyond +-0.9 are penalised: tanh saturates there and
stops learning, and the vote-derived targets rarely need it."""


def class_weights(examples: Iterable[Example]) -> torch.Tensor:
    """Inverse-frequency Ekman weights, normalised to mean 1 under the data.

    GoEmotions puts 12 of 27 emotions under joy; without these weights the
    model learns to say joy. Classes absent from the data get weight 1.
    """
    mass = torch.zeros(len(EKMAN), dtype=torch.float64)
    for example in examples:
        if example.emotion is not None:
            mass += torch.tensor(example.emotion, dtype=torch.float64)
    if mass.sum() == 0:
        return torch.ones(len(EKMAN))
    freq = mass / mass.sum()
    weights = torch.where(freq > 0, 1.0 / freq.clamp_min(1e-12), torch.ones_like(freq))
    weights = weights / (freq * weights).sum()        # expected weight under the data is 1
    return torch.where(freq > 0, weights, torch.ones_like(weights)).float()


def regret_side_weights(examples: Iterable[Example], balance: float) -> torch.Tensor:
    """(RIGHT, WRONG) row weights: inverse side frequency to the power `balance`.

    About a third of Scruples anecdotes are WRONG; an L1-like loss then pulls
    almost every prediction under 0.5 and the binarised F1 to zero. Normalised
    to mean 1 under the data, like `class_weights`.
    """
    counts = torch.zeros(2, dtype=torch.float64)
    for example in examples:
        if example.regret is not None:
            counts[int(example.regret > 0.5)] += 1
    if (counts == 0).any():
        return torch.ones(2)
    freq = counts / counts.sum()
    weights = freq.pow(-balance)
    return (weights / (freq * weights).sum()).float()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor,
               gamma: float) -> torch.Tensor:
    """Per-row focal loss (Lin et al. 2017) for soft targets: -sum_c w_c y_c (1-p_c)^g log p_c."""
    log_p = F.log_softmax(logits.float(), dim=-1)
    focus = (1.0 - log_p.exp()).pow(gamma)
    return -(weights * target * focus * log_p).sum(-1)


@dataclass(frozen=True)
class BatchShare:
    """A slice of a batch (a micro-batch, a rank's rows) and the whole it belongs to.

    A masked mean over the slice alone would weigh each slice equally however
    few labels it holds; divided by the whole batch's labelled rows of that
    target instead, and by the slice's row share `weight` (which the trainer
    multiplies back), the slices' losses add up to exactly the whole batch's.
    """

    counts: dict[str, torch.Tensor]
    """Target field -> labelled rows of that field in the whole batch."""
    weight: float
    """The slice's rows / the whole batch's rows."""


def _masked_mean(values: torch.Tensor, present: torch.Tensor,
                    whole: torch.Tensor | None = None, weight: float = 1.0) -> torch.Tensor:
    """Mean of `values` over the present rows (of the whole batch when `whole` is given)."""
    present = present.to(values.dtype)
    while present.dim() < values.dim():
        present = present.unsqueeze(-1)
    width = values[0].numel() if values.dim() > 1 else 1
    count = (present.sum() if whole is None else whole.to(values.device, values.dtype) * weight)
    return (values * present).sum() / (count * width).clamp_min(1e-12 if whole is not None
                                                                else 1.0)


@dataclass
class LossSettings:
    class_weights: torch.Tensor
    focal_gamma: float = 2.0
    regret_weights: torch.Tensor | None = None
    """(RIGHT, WRONG) row weights from `regret_side_weights`; None weighs rows equally."""


def _with_deep(outputs: Mapping[str, torch.Tensor], key: str, loss_of) -> torch.Tensor:
    total = loss_of(outputs[key])
    for prefix in ("head/", "analyzer/"):
        if prefix + key in outputs:
            total = total + DEEP_SUPERVISION_WEIGHT * loss_of(outputs[prefix + key])
    return total


def task_losses(outputs: Mapping[str, torch.Tensor], batch: Batch,
                settings: LossSettings, share: BatchShare | None = None
                ) -> dict[str, torch.Tensor]:
    """Loss per task present in the batch, plus "moe" (the load-balance term).

    With `share`, `batch` is a slice and each masked mean is its part of the
    whole batch's (see BatchShare).
    """
    t, has = batch.targets, batch.present

    def mean(values: torch.Tensor, field: str) -> torch.Tensor:
        # No labels anywhere in the batch (whole = 0): no row of the slice is present, so
        # the sum is 0 and so is the mean (read nothing here: a compiled step stays whole).
        whole = None if share is None else share.counts[field]
        return _masked_mean(values, has[field], whole, share.weight if share else 1.0)

    losses: dict[str, torch.Tensor] = {}
    if "emotion" in t:
        weights = settings.class_weights.to(outputs["emotion_logits"].device)
        loss = _with_deep(outputs, "emotion_logits", lambda x: mean(
            focal_loss(x, t["emotion"], weights, settings.focal_gamma), "emotion"))
        if "fine" in t:
            loss = loss + mean(F.binary_cross_entropy_with_logits(
                outputs["fine_logits"].float(), t["fine"], reduction="none"), "fine")
        if "sentiment" in t:
            loss = loss + mean(F.cross_entropy(
                outputs["sentiment_logits"].float(), t["sentiment"], reduction="none"),
                "sentiment")
        if "cultural" in t:
            loss = loss + mean((outputs["cultural"].float() - t["cultural"]) ** 2, "cultural")
        losses["emotion"] = loss
    bentham = []
    if "hedonic" in t:
        bentham.append(_with_deep(outputs, "hedonic_value", lambda x: mean(
            (x.float() - t["hedonic"]) ** 2 + extreme_penalty(x.float()), "hedonic")))
    if "bentham" in t:
        bentham.append(_with_deep(outputs, "bentham_dims", lambda x: mean(
            (x.float() - t["bentham"]) ** 2, "bentham")))
    if bentham:
        losses["bentham"] = sum(bentham)
    if "regret" in t:
        row_weight = torch.ones_like(t["regret"])
        if settings.regret_weights is not None:
            row_weight = settings.regret_weights.to(t["regret"].device)[
                (t["regret"] > 0.5).long()]
        regret = _with_deep(outputs, "regret", lambda x: mean(row_weight * F.huber_loss(
            x.float(), t["regret"], reduction="none", delta=0.1), "regret"))
        if "regret_views" in t:
            regret = regret + _with_deep(outputs, "regret_views", lambda x: mean(
                row_weight.unsqueeze(-1) * F.huber_loss(
                    x.float(), t["regret_views"], reduction="none", delta=0.1),
                "regret_views"))
        losses["regret"] = regret
    if "surd" in t:
        # The softmax output is on the simplex by construction; MSE compares shares.
        losses["surd"] = _with_deep(outputs, "surd", lambda x: mean(
            (x.float() - t["surd"]) ** 2, "surd"))
    if "moe_aux_loss" in outputs:
        losses["moe"] = MOE_AUX_WEIGHT * outputs["moe_aux_loss"].float()
    return losses


def extreme_penalty(value: torch.Tensor) -> torch.Tensor:
    """relu(|v| - 0.9)^2: zero inside the margin, quadratic beyond it."""
    return F.relu(value.abs() - EXTREME_MARGIN) ** 2


def bradley_terry(first_value: torch.Tensor, second_value: torch.Tensor,
                  less_ethical: torch.Tensor) -> torch.Tensor:
    """-log P(the less ethical action has the lower hedonic value), averaged.

    P = sigmoid(v_other - v_less): Bradley-Terry with hedonic value as strength.
    """
    less = torch.where(less_ethical.bool(), second_value, first_value)
    other = torch.where(less_ethical.bool(), first_value, second_value)
    return F.softplus(-(other.float() - less.float())).mean()
