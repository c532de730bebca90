"""One readable line per event, for `redheart events` without `--json`."""

from __future__ import annotations

import time
from typing import Any

from redheart.units import gib_text, mfu_text


def _loss(loss: dict[str, float]) -> str:
    parts = [f"loss {loss.get('total', float('nan')):.4f}"]
    parts += [f"{k} {v:.4f}" for k, v in loss.items() if k not in ("total", "moe")]
    return "  ".join(parts)


def _value(value: Any) -> str:
    """A field as a person reads it: 4 decimals for a float (as the losses), yes/no, and
    "-" for a value the run did not have (a plan without a budget, no profiler trace)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def event_line(event: dict[str, Any]) -> str:
    """`HH:MM:SS #seq type  details`; unknown fields of newer schemas are simply not shown.

    A line that parses but whose fields have other types than a run writes (a script's
    own line, a newer schema) is shown without its details rather than ending the
    listing with a traceback; `--json` shows it as it is.
    """
    kind = event.get("type", "?")
    try:
        stamp = time.strftime("%H:%M:%S", time.localtime(event.get("t", 0)))
    except (TypeError, ValueError, OverflowError, OSError):
        stamp = "--:--:--"
    try:
        detail = _detail(kind, event)
    except (TypeError, ValueError, AttributeError, OverflowError):
        detail = "(fields of unexpected types; see it with --json)"
    return f"{stamp} #{str(event.get('seq', '?')):<6} {str(kind):<12} {detail}".rstrip()


def _detail(kind: Any, event: dict[str, Any]) -> str:
    """The details `event_line` shows for one kind of event."""
    if kind == "step":
        detail = (f"step {event.get('step')}  epoch {event.get('epoch')}  "
                  f"{_loss(event.get('loss', {}))}  lr {event.get('lr', 0):.2e}  "
                  f"|g| {event.get('grad_norm', 0):.2f}  "
                  f"{event.get('samples_per_s', 0):.1f} samples/s{mfu_text(event.get('mfu'))}")
    elif kind == "memory":
        torch_mem = event.get("torch") or {}
        gpus = event.get("gpus") or []
        gpu = (f"gpu0 {gib_text(gpus[0].get('used'))}/{gib_text(gpus[0].get('total'))}"
               if gpus else event.get("gpu_state", ""))
        detail = (f"allocated {gib_text(torch_mem.get('allocated'))}  "
                  f"rss {gib_text(event.get('rss'))}  {gpu}")
    elif kind == "plan":
        detail = (f"forecast {gib_text(event.get('forecast', {}).get('total'))}  budget "
                  f"{gib_text(event.get('budget_bytes'))}  fits {_value(event.get('fits'))}  "
                  f"savers {', '.join(event.get('savers', [])) or 'none'}")
    elif kind == "eval":
        metrics = event.get("metrics", {})
        detail = f"step {event.get('step')}  " + "  ".join(
            f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, (int, float)))
    elif kind == "checkpoint":
        detail = f"{event.get('path')}  step {event.get('step')}" + (
            "  best" if event.get("best") else "")
    elif kind == "state":
        extra = {k: v for k, v in event.items() if k not in ("v", "seq", "t", "type", "state")}
        detail = f"{event.get('state')}  " + "  ".join(f"{k} {_value(v)}"
                                                       for k, v in extra.items())
    elif kind in ("warning", "error"):
        detail = event.get("message", "") + (f"  hint: {event['hint']}"
                                              if event.get("hint") else "")
    elif kind == "run_started":
        detail = (f"device {event.get('device')}  steps {event.get('total_steps')}  from step "
                  f"{event.get('step')}")
    elif kind == "run_finished":
        summary = event.get("summary", {})
        detail = "  ".join(f"{k} {_value(v)}" for k, v in summary.items())
    elif kind == "killed":     # added by the follower, not in the file (no seq)
        detail = (f"the run ended without a word after step {event.get('step')} (its "
                  f"process died: SIGKILL, out of memory, a lost node); continue it with "
                  f"--resume last")
    else:
        detail = ""
    return detail
