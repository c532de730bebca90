"""The run's checkpoints written in the background, one write in flight at a time.

The snapshot is taken at once, between steps (under FSDP2 it gathers the
shards, a collective every rank joins); the files are then written and
fsynced on a thread while training continues. The `checkpoint` event is
emitted, and the pointers move, only when the folder is complete. A failed
write stops the run with a `TrainingError` that says what was kept.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any

import torch

from redheart.config import Config
from redheart.errors import RedHeartError, TrainingError
from redheart.runs.checkpoints import (
    TrainState,
    checkpoint_name,
    pointer_target,
    snapshot,
    write_checkpoint,
)
from redheart.runs.events import EventsWriteError


class CheckpointWriter:
    """Snapshots the training state and writes it to `RUN_DIR/checkpoints` on a thread."""

    def __init__(self, run_dir: Path | None, config: Config,
                 emit: Callable[..., None]) -> None:
        self.root = run_dir / "checkpoints" if run_dir is not None else None
        """None: a run without a directory keeps no checkpoints."""
        self.config = config
        self._emit = emit
        self.saved_step: int | None = None
        """The step of the newest snapshot, written or in flight."""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending: Future | None = None
        self._pending_folder = Path()
        """The step folder the pending write makes, named by a failure."""

    def save(self, model: torch.nn.Module, optimizer: Any, state: TrainState,
             extra: dict[str, torch.nn.Module], metrics: dict[str, Any],
             is_best: bool = False, keep: bool = True) -> Path | None:
        """Snapshot now (after the previous write is on disk), write in the background.

        In a distributed run every rank calls this and only the rank that
        `keep`s the snapshot (rank 0) writes. Returns the step's folder.
        """
        if self.root is None:
            return None
        self.wait(state.step)
        self.saved_step = state.step
        snap = snapshot(model, optimizer, state, extra, keep=keep)
        if snap is None:
            return self.root / checkpoint_name(state.step)
        root = self.root

        def write() -> None:
            path = write_checkpoint(root, snap, self.config, metrics, is_best,
                                    self.config.checkpoint.keep_last)
            self._emit("checkpoint", path=str(path), step=snap.state.step, best=is_best)

        self._pending = self._pool.submit(write)
        self._pending_folder = root / checkpoint_name(snap.state.step)
        return self._pending_folder

    def wait(self, step: int) -> None:
        """Block until the checkpoint being written is on disk; its failure stops the run.

        `step` is the run's current step, which the failure's `error` event names.
        """
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            pending.result()
        except OSError as exc:
            folder = self._pending_folder
            # Failing after the rename (the `last` pointer, pruning) leaves this step whole,
            # and `--resume last` picks the newest whole folder even without its pointer.
            kept = (f"{folder.name} was written whole" if folder.is_dir()
                    else "earlier checkpoints are intact")
            with suppress(EventsWriteError):  # the same full disk may refuse the event
                self._emit("error", message=f"checkpoint write failed: {exc}", step=step,
                           hint="free disk space or fix the run directory's permissions")
            raise TrainingError(f"checkpoint write of {folder.name} failed: {exc}; {kept}; "
                                f"free disk space, then continue with --resume last") from None

    def last_complete(self, step: int) -> str | None:
        """The run's last good checkpoint: the `last` pointer's folder, once the write in
        flight is done (so the name is of one that is complete)."""
        self.wait(step)
        name = pointer_target(self.root, "last") if self.root is not None else None
        return str(self.root / name) if name else None

    def close(self, step: int) -> None:
        """Let a checkpoint being written finish (a failure was already reported), then
        stop the writer thread."""
        with suppress(RedHeartError):
            self.wait(step)
        self._pool.shutdown(wait=True)
