"""Control channel: commands appended to `RUN_DIR/control`, one JSON object a line.

`{"cmd": "pause" | "resume" | "stop" | "save-now" | "set-lr", "lr": 3e-4}`.
The engine reads new lines between steps (`RunControl`) and acknowledges each
with a `state` event; a file in the run directory needs no port and inherits
the directory's 0700 permissions (and SSH is the way in from elsewhere).
Torch-free: the console sends commands through this module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redheart.errors import RedHeartError
from redheart.runs.events import parse_lines
from redheart.runs.liveness import lock_holder

if TYPE_CHECKING:
    from redheart.runs.checkpoints import TrainState
    from redheart.train.distributed import DistContext

COMMANDS = ("pause", "resume", "stop", "save-now", "set-lr")


def send(run_dir: Path, cmd: str, **args: Any) -> None:
    """Append one command (what the console and scripts call)."""
    if cmd not in COMMANDS:
        raise ValueError(f"unknown control command {cmd!r}; expected one of {COMMANDS}")
    with (run_dir / "control").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"cmd": cmd, "t": time.time(), **args}) + "\n")


def send_checked(run_dir: Path, cmd: str, lr: float | None = None) -> None:
    """`send` for the command line: bad input is a one-line error, not a traceback."""
    if cmd not in COMMANDS:
        raise RedHeartError(f"unknown control command '{cmd}'; use one of "
                            f"{', '.join(COMMANDS)}")
    if (cmd == "set-lr") != (lr is not None):
        raise RedHeartError("set-lr needs --lr VALUE (and only set-lr takes --lr)")
    if lr is not None and not lr > 0:
        raise RedHeartError(f"set-lr --lr {lr}: a learning rate is positive, e.g. 3e-4")
    if not (run_dir / "events.jsonl").is_file():
        raise RedHeartError(f"{run_dir}: not a run directory (no events.jsonl)")
    if lock_holder(run_dir) is None:    # else the command would wait there, unread
        raise RedHeartError(f"{run_dir}: not live (no process holds its lock), so nothing "
                            f"would read '{cmd}'; `redheart runs {run_dir.parent}` shows its "
                            f"status")
    try:
        send(run_dir, cmd, **({"lr": lr} if lr is not None else {}))
    except OSError as exc:
        raise RedHeartError(f"{run_dir}/control: cannot be written ({exc.strerror or exc}); "
                            f"free disk space or check the directory's permissions") from None


class ControlReader:
    """Returns the commands appended since the last poll (whole lines only); commands
    written before the run started are not replayed.

    A file rewritten rather than appended to (`echo '{"cmd": "stop"}' > control`,
    one `>` where the README says `>>`) is read from its start, even when it holds the
    same bytes as before: reading on from the old offset skipped the new command
    without a word, and the run went on. A poll costs one stat; the file is read only
    when its inode, size or modification time moved.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "control"
        self._seen: tuple[int, int, int] | None = None
        """(inode, size, mtime) when last read; None before the first successful look."""
        self._read = b""
        """The file's bytes up to the last whole line already taken (or there at start)."""
        self._look()            # what is there now is history, not commands

    def _look(self) -> bytes | None:
        """The file's new whole-line bytes since the last look (everything, if it was
        rewritten); None when nothing moved or it cannot be read now."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            stat = None
        except OSError:         # unreadable for now: nothing new, and nothing forgotten
            return None
        seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns) if stat else (0, 0, 0)
        if seen == self._seen:
            return None
        try:
            data = self.path.read_bytes() if stat else b""
        except FileNotFoundError:
            data = b""
        except OSError:
            return None
        first, self._seen = self._seen is None, seen
        appended = (stat is not None and self._read and data.startswith(self._read)
                    and len(data) > len(self._read))
        new = data[len(self._read):] if appended else data
        whole = new[:new.rfind(b"\n") + 1]          # a line still being written waits
        self._read = (self._read if appended else b"") + whole
        return None if first else whole

    def poll(self) -> list[dict[str, Any]]:
        whole = self._look()
        if not whole:
            return []
        return [c for c in parse_lines(whole.split(b"\n"))
                if isinstance(c, dict) and c.get("cmd") in COMMANDS]


class RunControl:
    """Between steps: the control file's commands, signals, and a stop every rank agrees on.

    In a distributed run every rank applies rank 0's commands, and a signal
    seen by any rank stops them all at the same step.
    """

    def __init__(self, run_dir: Path | None, dist: DistContext, base_lr: float,
                 emit: Callable[..., None]) -> None:
        self._reader = ControlReader(run_dir) if run_dir else None
        self._dist = dist
        self._base_lr = base_lr
        """`[train] lr`: set-lr scales the schedule by lr / base_lr."""
        self._emit = emit
        self.stop_requested: str | None = None
        """"control" (a stop command), a signal's name, or "peer" (another rank's signal)."""
        self.paused = False

    def between_steps(self, state: TrainState, save_now: Callable[[], Path | None]) -> bool:
        """Apply the commands sent since the last step, waiting while paused: whether to
        stop now."""
        if self._reader is None and not self._dist.active:
            return bool(self.stop_requested)
        while True:
            commands = self._reader.poll() if self._reader is not None else []
            for command in self._dist.from_main(commands):
                self._command(command, state, save_now)
            stop = self.agree_on_stop()
            if not self.paused or stop:
                return stop
            time.sleep(0.2)

    def agree_on_stop(self) -> bool:
        """Whether to stop, the same on every rank.

        A signal lands on one rank at any moment, even in an epoch's last step;
        a rank that stopped there while the others went on to evaluate would
        leave them waiting in collectives it never joins.
        """
        if not self._dist.active:
            return bool(self.stop_requested)
        # The agreed value, not a re-read: a signal arriving after the all-reduce is
        # this rank's alone until the next agreement.
        agreed = self._dist.any(bool(self.stop_requested))
        if agreed:
            self.stop_requested = self.stop_requested or "peer"
        return agreed

    def _command(self, command: dict[str, Any], state: TrainState,
                 save_now: Callable[[], Path | None]) -> None:
        cmd = command["cmd"]
        if cmd == "pause":
            self.paused = True
            self._emit("state", state="paused", step=state.step, command=cmd)
        elif cmd == "resume":
            self.paused = False
            self._emit("state", state="running", step=state.step, command=cmd)
        elif cmd == "stop":
            self.stop_requested = "control"
            self._emit("state", state="stopping", step=state.step, command=cmd)
        elif cmd == "save-now":
            path = save_now()
            self._emit("state", state="paused" if self.paused else "running",
                       step=state.step, command=cmd, checkpoint=str(path))
        elif cmd == "set-lr":
            lr = command.get("lr")
            if isinstance(lr, (int, float)) and lr > 0:
                state.lr_scale = float(lr) / self._base_lr
                self._emit("state", state="paused" if self.paused else "running",
                           step=state.step, command=cmd, lr=float(lr))
            else:
                self._emit("warning", message=f"set-lr ignored: lr must be a positive number, "
                           f"got {lr!r}")
