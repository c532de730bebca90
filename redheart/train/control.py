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

from redheart.runs.events import EventTail

COMMANDS = ("pause", "resume", "stop", "save-now", "set-lr")


def send(run_dir: Path, cmd: str, **args: Any) -> None:
    """Append one command (what the console and scripts call)."""
    if cmd not in COMMANDS:
        raise ValueError(f"unknown control command {cmd!r}; expected one of {COMMANDS}")
    with (run_dir / "control").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"cmd": cmd, "t": time.time(), **args}) + "\n")


class ControlReader:
    """Returns the commands appended since the last poll (whole lines only); commands
    written before the run started are not replayed."""

    def __init__(self, run_dir: Path) -> None:
        self._tail = EventTail(run_dir / "control", from_end=True)

    def poll(self) -> list[dict[str, Any]]:
        return [c for c in self._tail.poll() if isinstance(c, dict) and c.get("cmd") in COMMANDS]
