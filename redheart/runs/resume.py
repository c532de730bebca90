"""Where `--resume` continues from."""

from __future__ import annotations

from pathlib import Path

from redheart.runs.checkpoints import pointer_target, resolve_checkpoint
from redheart.runs.recovery import newest_complete


def resume_point(spec: str, run_dir: Path) -> Path | None:
    """The checkpoint `--resume SPEC` continues from; None means start over at step 0.

    A run killed before its first checkpoint (even before its first event)
    has nothing to resume, and neither has a `--run-dir` not yet created.
    `--resume last` then starts from step 0 in that directory, so a loop that
    launches and relaunches a preemptible job with `--resume last` works from
    its first launch on; a fresh start in a used directory would be refused as
    "already holds a run".
    """
    root = run_dir / "checkpoints"
    if spec == "last":
        newest = newest_complete(root, pointer_target(root, "last")) if root.is_dir() else None
        return root / newest if newest else None
    return resolve_checkpoint(spec, run_dir)
