"""What a run says to people when it finishes, fails or goes quiet: one rule for every channel.

The training process sends these through apprise ([notify] urls) and the
console rings the terminal's bell and shows a desktop notification; both
ask `notice_for`, so a run never tells the chat one thing and the desktop
another. Torch-free and Textual-free: both sides import it.

Besides the events of `events.jsonl` it understands two items that no
file holds: `{"type": "stall", "step": N, "minutes": M}` (a watchdog saw no
step for M minutes; notify/stall.py) and the `killed` item that followers
add when a run died without a word (runs/liveness.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LEVELS = ("info", "success", "warning", "failure")
"""Apprise's notify types, which its services show as colours or icons."""


@dataclass(frozen=True)
class Notice:
    kind: str
    """finish, error, nonfinite or stall: what [notify] on selects."""
    title: str
    body: str
    level: str
    """info, success, warning or failure."""


def notice_for(event: dict[str, Any], run: str) -> Notice | None:
    """The notice an event calls for, or None (most events call for none).

    `run` names the run in the title (its directory's name), so a channel
    that several runs share says which one spoke.
    """
    kind = event.get("type")
    step = event.get("step")
    if kind == "run_finished":
        return _finished(event.get("summary") or {}, run)
    if kind == "error":
        message, hint = event.get("message") or "unknown error", event.get("hint")
        body = f"{message}; {hint}" if hint else message
        if event.get("cause") == "nonfinite":
            return Notice("nonfinite", f"{run}: non-finite loss at step {step}", body,
                          "failure")
        return Notice("error", f"{run} failed", body, "failure")
    if kind == "stall":
        return Notice("stall", f"{run} stalled",
                      f"no training step for {_number(event.get('minutes'))} minutes "
                      f"(last step {step}); the run still holds its lock", "warning")
    if kind == "killed":
        return Notice("error", f"{run} was killed",
                      f"it ended without a word after step {step} (its lock is free); "
                      f"continue it with --resume last", "failure")
    return None


def _finished(summary: dict[str, Any], run: str) -> Notice:
    steps = summary.get("steps")
    parts = [f"step {steps}"]
    if summary.get("best_loss") is not None:
        parts.append(f"best eval loss {_number(summary['best_loss'])}")
    if summary.get("final_loss") is not None:
        parts.append(f"final training loss {_number(summary['final_loss'])}")
    if summary.get("last_checkpoint"):
        parts.append(f"last checkpoint {summary['last_checkpoint']}")
    body = "; ".join(parts)
    if summary.get("reason") == "stopped":
        return Notice("finish", f"{run} stopped at step {steps}", body, "info")
    return Notice("finish", f"{run} finished", body, "success")


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)
