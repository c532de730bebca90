"""`redheart run`'s own code path, recording every step's loss (events are rate-limited).

Started by the tests as `torchrun ... loss_recorder.py OUT.json PROFILE RUN_DIR RESUME k=v ...`
or as a plain process (RESUME is a checkpoint folder or "-"); rank 0 writes
{"losses": {step: {name: loss}}} to OUT.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from redheart.config_load import load_profile
from redheart.train.run import run_training


class RecordingReporter:
    """Keeps each step's total loss; the engine calls it on rank 0 only."""

    def __init__(self, out: Path) -> None:
        self.out, self.losses = out, {}

    def started(self, run_dir: Path, trainer: Any) -> None: ...
    def encoding(self, done: int, total: int) -> None: ...

    def step(self, result: Any, state: Any) -> None:
        self.losses[state.step] = result.loss

    def finished(self, run_dir: Path, outcome: Any) -> None:
        self.out.write_text(json.dumps({"run_dir": str(run_dir), "losses": self.losses}))


def main(argv: list[str]) -> None:
    out, profile, run_dir, resume, *overrides = argv
    config = load_profile(Path(profile), overrides)
    _record_checkpoint_reads(Path(out))
    run_training(config, Path(profile).resolve().parent, RecordingReporter(Path(out)),
                 Path(run_dir), None if resume == "-" else resume)
    _record_wrappers_left(Path(out))


def _record_wrappers_left(out: Path) -> None:
    """Each rank writes how many DDP/FSDP-wrapped modules are still alive once the run has
    returned (`OUT.wrappers.RANK`): they hold the process group, which is destroyed by then."""
    import gc
    import os

    from torch.distributed.fsdp import FSDPModule
    from torch.nn.parallel import DistributedDataParallel

    left = sum(isinstance(o, (DistributedDataParallel, FSDPModule)) for o in gc.get_objects())
    out.with_name(f"{out.name}.wrappers.{os.environ.get('RANK', '0')}").write_text(str(left))


def _record_checkpoint_reads(out: Path) -> None:
    """Each rank lists the checkpoint files it read into `OUT.reads.RANK` (resume tests:
    in a sharded job only rank 0 reads the weights and the optimizer state)."""
    import os

    from redheart.runs import checkpoints

    log = out.with_name(f"{out.name}.reads.{os.environ.get('RANK', '0')}")
    log.write_text("")
    for name in ("_read_weights", "_read_optimizer"):
        original = getattr(checkpoints, name)

        def reading(path: Path, *args: Any, _name: str = name, _original: Any = original) -> Any:
            with log.open("a") as f:
                f.write(f"{_name}\n")
            return _original(path, *args)

        setattr(checkpoints, name, reading)


if __name__ == "__main__":
    main(sys.argv[1:])
