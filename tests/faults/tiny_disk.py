"""A run on a tiny filesystem that fills up: run inside `unshare -rm` (see `disk_full`).

Mounts a tmpfs (a real filesystem with a real size limit, so writes fail
with ENOSPC exactly as on a full disk) and runs the quickstart profile on it
in stages, printing one JSON report:

- "checkpoint": after the first checkpoint, a filler leaves less room than a
  checkpoint needs; the next checkpoint write fails.
- "events": the filler is removed and the run resumed; after its epoch-end
  checkpoint the filler takes every block; the next event write fails.
- "recover" (optional): the filler is removed; resumed again, the run goes on
  and stops cleanly with a checkpoint.

Exit code 97: the tmpfs could not be mounted (no user namespaces here).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.faults.harness import (  # noqa: E402
    events,
    launches,
    newest_loadable,
    run_command,
    seq_gaps,
    wait_until,
)

CHECKPOINT_ROOM = 20 * 2**20
"""Free bytes left for the "checkpoint" stage: events fit, a checkpoint (~58 MiB) does not."""


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def fill(filler: Path, leave: int) -> None:
    """Grow `filler` until only `leave` bytes are free (0: every last block).

    The run keeps writing while this measures: when it took blocks between the measure and
    the allocation, the allocation fails whole, so measure again and retry."""
    with filler.open("ab", buffering=0) as f:
        while (room := free_bytes(filler.parent) - leave) > 0:
            try:
                os.posix_fallocate(f.fileno(), f.seek(0, 2), room)
                break
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
        if leave == 0:
            try:
                while f.write(b"\0" * 4096):
                    pass
            except OSError:
                pass


def stage(name: str, run_dir: Path, cache: str, sets: list[str], resume: bool,
          trigger: Callable[[subprocess.Popen], None]) -> dict:
    """Run one launch; `trigger(proc)` is called once it trains, and the launch must then
    end by itself (a write failure, or a stop the trigger sent)."""
    proc = subprocess.Popen(run_command(run_dir, cache, sets, resume), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    count = len(launches(run_dir)) + 1
    try:
        wait_until(lambda: len(launches(run_dir)) >= count and any(
            e["type"] == "step" for e in launches(run_dir)[-1]) or proc.poll() is not None,
                   timeout=300, what=f"{name}: training")
        trigger(proc)
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    part = launches(run_dir)[-1]
    begin = next((e for e in part if e["type"] == "run_started"), {})
    newest, step, loadable = newest_loadable(run_dir)
    raw = (run_dir / "events.jsonl").read_bytes()
    return {"stage": name, "exit": proc.returncode, "stderr": stderr.splitlines(),
            "resumed_step": begin.get("step"), "newest": newest, "newest_step": step,
            "loadable": loadable, "last_event": part[-1]["type"],
            "error_events": [e["message"] for e in part if e["type"] == "error"],
            "partial": sorted(p.name for p in (run_dir / "checkpoints").iterdir()
                              if p.name.startswith(".tmp-")),
            "events_end_with_newline": raw.endswith(b"\n"), "seq_gaps": seq_gaps(events(run_dir)),
            "free_mib": round(free_bytes(run_dir) / 2**20, 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mount", type=Path, required=True)
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--recover", action="store_true")
    args = parser.parse_args()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.size_mib}m", "tmpfs",
                              str(args.mount)], capture_output=True, text=True)
    if mounted.returncode != 0:
        print(json.dumps({"unavailable": mounted.stderr.strip()}))
        return 97
    run_dir, filler = args.mount / "run", args.mount / "filler"
    every_5 = ["train.max_steps=100000", "checkpoint.every_steps=5", "checkpoint.keep_last=1"]
    # Only the epoch-end checkpoint: after it, nothing but events is written for 18 steps.
    epoch_only = [*every_5[:1], "checkpoint.every_steps=100000", "checkpoint.keep_last=1"]

    def checkpointed(proc) -> None:
        wait_until(lambda: any(e["type"] == "checkpoint" for e in launches(run_dir)[-1])
                   or proc.poll() is not None, timeout=300, what="a checkpoint")

    def leave_less_than_a_checkpoint(proc) -> None:
        checkpointed(proc)
        fill(filler, CHECKPOINT_ROOM)

    def fill_every_block(proc) -> None:
        checkpointed(proc)
        fill(filler, 0)

    def stop_after_two_steps(proc) -> None:
        from redheart.train.control import send

        begin = next(e for e in launches(run_dir)[-1] if e["type"] == "run_started")["step"]
        wait_until(lambda: any(e["type"] == "step" and e["step"] >= begin + 2
                               for e in launches(run_dir)[-1]) or proc.poll() is not None,
                   timeout=300, what="two steps after recovering")
        send(run_dir, "stop")

    report = [stage("checkpoint", run_dir, args.cache, every_5, False,
                    leave_less_than_a_checkpoint)]
    filler.unlink()
    report.append(stage("events", run_dir, args.cache, epoch_only, True, fill_every_block))
    if args.recover:
        filler.unlink()
        report.append(stage("recover", run_dir, args.cache, every_5, True,
                            stop_after_two_steps))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
