"""Where `--resume` continues from."""

from __future__ import annotations

from pathlib import Path

from redheart.runs.checkpoints import pointer_target, resolve_checkpoint
from redheart.runs.recovery import newest_complete


def resume_point(spec: str, run_dir: Path) -> Path | None:
    """The checkpoint `--resume SPEC` continues from; None means start over at step 0.

    A run killed before its first checkpoint (even before its first event)
    has nothing to resume. `--resume last` then starts it again from step 0
    in the same directory, so a loop that restarts a preempted job with
    `--resume last` always works; a fresh start there would be refused as
    "already holds a run".
    """
    root = run_dir / "checkpoints"
    if spec == "last" and root.is_dir():
        newest = newest_complete(root, pointer_target(root, "last"))
        return root / newest if newest else None
    return resolve_checkpoint(spec, run_dir)
