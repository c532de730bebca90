"""Control channel: commands appended to `RUN_DIR/control`, one JSON object a line.

`{"cmd": "pause" | "resume" | "stop" | "save-now" | "set-lr", "lr": 3e-4}`.
The engine reads new lines between steps and acknowledges each with a
`state` event; a file in the run directory needs no port and inherits the
directory's 0700 permissions (and SSH is the way in from elsewhere).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from redheart.errors import RedHeartError
from redheart.runs.events import EventTail

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
    if not (run_dir / "events.jsonl").is_file():
        raise RedHeartError(f"{run_dir}: not a run directory (no events.jsonl)")
    try:
        send(run_dir, cmd, **({"lr": lr} if lr is not None else {}))
    except OSError as exc:
        raise RedHeartError(f"{run_dir}/control: cannot be written ({exc.strerror or exc}); "
                            f"free disk space or check the directory's permissions") from None


class ControlReader:
    """Returns the commands appended since the last poll (whole lines only); commands
    written before the run started are not replayed."""

    def __init__(self, run_dir: Path) -> None:
        self._tail = EventTail(run_dir / "control", from_end=True)

    def poll(self) -> list[dict[str, Any]]:
        return [c for c in self._tail.poll() if isinstance(c, dict) and c.get("cmd") in COMMANDS]
