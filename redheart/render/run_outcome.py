"""The last line of a run: how it ended, its best checkpoint and its last one.

Torch-free, so the console prints the same line as `redheart run` for a run
it left training headless (the UI never imports torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redheart.runs.listing import best_eval
from redheart.runs.recovery import checkpoint_name


def loss_text(value: Any) -> str:
    """A loss as the run log prints it (4 decimals), `-` when there is none."""
    return f"{value:.4f}" if isinstance(value, (int, float)) else "-"


def best_on_disk(run_dir: Path) -> str:
    """`best eval loss L at step N (path)` from the run's events, or that there is none."""
    metrics, step = best_eval(run_dir)
    if metrics is None or step is None:
        return "no eval yet, so no best checkpoint"
    path = run_dir / "checkpoints" / checkpoint_name(step)
    return f"best eval loss {loss_text(metrics.get('loss'))} at step {step} ({path})"


def outcome_line(reason: str, step: int, total: int | None, best: str,
                 last: Path | None) -> str:
    return (f"{reason} at step {step}/{total or '?'}; {best}; last checkpoint "
            f"{last if last else 'none'}")
