"""Which outputs a run actually trained: labelled rows per target, counted over the run.

GoEmotions and Scruples carry no labels for some outputs (the cultural
dimensions, the seven Bentham dimensions). A head with no labelled row ever
receives no training signal, and presenting its numbers as predictions would
be a made-up result; the checkpoint therefore records what trained each
target, and `predict`, `validate` and the model card read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from redheart import tasks

if TYPE_CHECKING:
    from redheart.data.batching import Batch

TARGETS_OF_OUTPUT: dict[str, tuple[str, ...]] = {
    t.output: (t.output, "pairs") if t.output == "hedonic_value" else (t.output,)
    for t in tasks.TARGETS
}
"""The targets whose rows train each output: the hedonic value learns from its own
labels and from dilemma pairs."""

TARGETS: tuple[str, ...] = tuple(name for names in TARGETS_OF_OUTPUT.values() for name in names)
"""Every supervised target, by the name of the output it trains (pairs: dilemma pairs)."""

_TARGET_OF_FIELD = {t.field: t.output for t in tasks.TARGETS}
_LOSS_NEEDS = {"sentiment": "emotion", "fine": "emotion", "cultural": "emotion",
               "regret_views": "regret"}
"""Fields whose loss is only computed beside another one's (see losses.task_losses)."""


def batch_rows(batch: Batch) -> dict[str, int]:
    """Labelled rows per target in one (global) batch, as the losses see them."""
    if batch.pair_inputs is not None:
        return {"pairs": len(batch)}
    rows = {}
    for field, present in batch.present.items():
        needed = _LOSS_NEEDS.get(field)
        if needed is not None and needed not in batch.present:
            continue
        count = int(present.sum())
        if count:
            rows[_TARGET_OF_FIELD[field]] = count
    return rows


def add_rows(total: dict[str, int], batch: Batch) -> None:
    for target, count in batch_rows(batch).items():
        total[target] = total.get(target, 0) + count


def output_trained(trained_rows: Mapping[str, int] | None, output: str) -> bool | None:
    """Whether any labelled row trained `output`; None when the checkpoint did not count."""
    if trained_rows is None:
        return None
    return any(trained_rows.get(target, 0) > 0 for target in TARGETS_OF_OUTPUT[output])


def untrained_outputs(trained_rows: Mapping[str, int] | None) -> list[str] | None:
    """Outputs no labelled row trained, in output order; None when not counted."""
    if trained_rows is None:
        return None
    return [name for name in TARGETS_OF_OUTPUT if not output_trained(trained_rows, name)]


_ROWS_OF_TASK = {"emotion": "emotion", "bentham": "hedonic", "regret": "regret",
                 "surd": "surd"}
"""The target field whose rows a task's batch loss is a mean over (its main target)."""


def task_rows(batch: Batch) -> dict[str, int]:
    """Rows behind each task's loss in one batch: what weighs it in a mean over batches."""
    if batch.pair_inputs is not None:
        return {"pairs": len(batch)}
    present = batch.present
    rows = {task: int(present[field].sum()) for task, field in _ROWS_OF_TASK.items()
            if field in present}
    if "bentham" not in rows and "bentham" in present:   # Bentham dimensions without a value
        rows["bentham"] = int(present["bentham"].sum())
    return {task: count for task, count in rows.items() if count}
