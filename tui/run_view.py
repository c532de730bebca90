"""What the console knows about a run, folded from its events (no Textual, no torch).

The in-process and the attached console both feed events here, batched, and
draw from it; so a run watched live and one replayed from `events.jsonl`
look the same.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from redheart.runs.events import SeqGaps
from tui.grad_norms import GradNorms, batch_kind
from tui.series import Series

if sys.version_info >= (3, 11):
    import tomllib
else:                                   # the project's own fallback (pyproject.toml)
    import tomli as tomllib

HISTORY = 600
"""Memory samples kept for the memory panel's one-row history."""
THROUGHPUT = ("samples/s", "tokens/s")


@dataclass
class Checkpoint:
    path: str
    step: int
    best: bool


@dataclass
class RunView:
    run_dir: str | None = None
    state: str = "idle"
    """idle, starting, running, paused, stopping, stopped, finished, failed, killed."""
    step: int = 0
    epoch: int = 0
    total_steps: int | None = None
    device: str | None = None
    loss: dict[str, Series] = field(default_factory=dict)
    """"total" and each task -> (step, t, value), the whole run (bounded: tui/series.py)."""
    eval: dict[str, Series] = field(default_factory=dict)
    """Each eval metric ("loss", the tasks) -> one point per evaluation."""
    throughput: dict[str, Series] = field(default_factory=dict)
    """"samples/s" and "tokens/s" -> one point per step event."""
    grads: GradNorms = field(default_factory=GradNorms)
    lr: float | None = None
    grad_norm: float | None = None
    samples_per_s: float | None = None
    tokens_per_s: float | None = None
    mfu: float | None = None
    """The newest step's model FLOPs utilisation; None when the run does not know it."""
    started_at: float | None = None
    """When the newest launch started (a resume restarts it: the ETA's clock)."""
    opened_at: float | None = None
    """When the first launch started: where the elapsed-time axis starts."""
    first_step: int | None = None
    last_step_t: float | None = None
    paused_s: float = 0.0
    """Seconds this launch spent paused: not training time, so not in the ETA's rate."""
    paused_at: float | None = None
    eval_metrics: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] | None = None
    memory_history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    """Bytes in use per sample: torch allocated on a GPU, else the process RSS."""
    plan: dict[str, Any] | None = None
    checkpoints: list[Checkpoint] = field(default_factory=list)
    """The run's step folders as on disk, in folder-name (step) order: each `checkpoint`
    event adds one and `keep_last` pruning, modelled here, drops those it removed."""
    keep_last: int | None = None
    """`[checkpoint] keep_last` of the newest launch's config (its run_started event);
    None when unknown, and then nothing is pruned from the list."""
    messages: list[tuple[str, str]] = field(default_factory=list)
    """(level, text) of warnings and errors, oldest first."""
    gaps: SeqGaps = field(default_factory=SeqGaps)
    missing: list[str] = field(default_factory=list)
    """Seq ranges absent from the stream (cut lines)."""
    events_seen: int = 0

    def apply(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        self.events_seen += 1
        if missing := self.gaps.see(event):
            self.missing.append(missing)
            self.messages.append(("warning", f"events {missing} are missing "
                                  f"(cut or corrupted lines)"))
        handler = getattr(self, "_on_" + str(event.get("type")), None)
        if handler is not None:
            handler(event)

    def _on_run_started(self, event: dict[str, Any]) -> None:
        self.total_steps = event.get("total_steps")
        self.device = event.get("device")
        self.step = event.get("step") or 0
        self.first_step = self.step
        self.started_at = event.get("t")
        self.paused_s, self.paused_at = 0.0, None
        if self.opened_at is None:
            self.opened_at = self.started_at
        self.state = "running"
        self.keep_last = _keep_last(event.get("config"))
        self._abandon_after(self.step)

    def _abandon_after(self, step: int) -> None:
        """A launch that starts at step S (a resume; 0 after a death before the first
        checkpoint) trains S+1 onward again: the killed launch's points past S are
        abandoned, as TensorBoard and `redheart plot` drop them, so the newest launch's
        curve is the one drawn, without a loop back to S."""
        for series in (*self.loss.values(), *self.eval.values(),
                       *self.throughput.values()):
            series.drop_after(step)

    def _on_plan(self, event: dict[str, Any]) -> None:
        self.plan = event

    def _on_step(self, event: dict[str, Any]) -> None:
        self.step = event.get("step", self.step)
        self.epoch = event.get("epoch", self.epoch)
        t = float(event.get("t") or 0.0)
        for name, value in (event.get("loss") or {}).items():
            if name != "moe":
                _record(self.loss, name, self.step, t, value)
        self.lr = event.get("lr", self.lr)
        self.grad_norm = event.get("grad_norm", self.grad_norm)
        self.samples_per_s = event.get("samples_per_s", self.samples_per_s)
        self.tokens_per_s = event.get("tokens_per_s", self.tokens_per_s)
        self.mfu = event.get("mfu")
        for name, key in zip(THROUGHPUT, ("samples_per_s", "tokens_per_s"), strict=True):
            _record(self.throughput, name, self.step, t, event.get(key))
        self.grads.add(self.step, event.get("grad_norm_by_module") or {},
                       kind=batch_kind(event))
        self.last_step_t = event.get("t")
        if self.first_step is None:
            self.first_step, self.started_at = self.step, event.get("t")
        if self.opened_at is None:
            self.opened_at = event.get("t")

    def _on_memory(self, event: dict[str, Any]) -> None:
        self.memory = event
        torch_mem = event.get("torch") or {}
        used = torch_mem.get("allocated") if torch_mem else event.get("rss")
        if used is not None:
            self.memory_history.append(used)

    def _on_eval(self, event: dict[str, Any]) -> None:
        self.eval_metrics = dict(event.get("metrics") or {})
        step, t = int(event.get("step", self.step)), float(event.get("t") or 0.0)
        for name, value in self.eval_metrics.items():
            _record(self.eval, name, step, t, value)

    def _on_checkpoint(self, event: dict[str, Any]) -> None:
        best = bool(event.get("best"))
        path = str(event.get("path"))
        if best:
            for checkpoint in self.checkpoints:
                checkpoint.best = False
        # The end of a run saves the step a periodic save may just have written: the
        # same folder, listed once (it stays best if it was).
        # Kept in write order, as keep_last prunes on disk: a resume from an earlier step
        # writes lower-numbered folders after the abandoned launch's higher ones.
        same = next((c for c in self.checkpoints if c.path == path), None)
        if same is not None:
            same.best = same.best or best
            self.checkpoints.remove(same)
            self.checkpoints.append(same)
        else:
            self.checkpoints.append(Checkpoint(path, int(event.get("step", 0)), best))
        self._prune(path)

    def _prune(self, last: str) -> None:
        """What redheart/runs/checkpoints.py `_prune` just did on disk after writing
        `last`: every folder but the keep_last written last goes, unless the `last` or `best`
        pointer names it. The events carry no deletions; without this the list showed
        folders long gone and hid the older best that is still there."""
        if self.keep_last is None:
            return
        best = self.best_checkpoint()
        pinned = {last, best.path if best else None}
        old = self.checkpoints[:-self.keep_last]
        self.checkpoints = [c for c in old if c.path in pinned] \
            + self.checkpoints[-self.keep_last:]

    def _on_state(self, event: dict[str, Any]) -> None:
        self.state = event.get("state", self.state)
        t = event.get("t")
        if isinstance(t, (int, float)):
            if self.state == "paused" and self.paused_at is None:
                self.paused_at = t
            elif self.state != "paused" and self.paused_at is not None:
                self.paused_s += t - self.paused_at
                self.paused_at = None

    def _on_warning(self, event: dict[str, Any]) -> None:
        self.messages.append(("warning", str(event.get("message", ""))))

    def _on_error(self, event: dict[str, Any]) -> None:
        hint = event.get("hint")
        self.messages.append(("error", str(event.get("message", "")) +
                              (f" (hint: {hint})" if hint else "")))
        self.state = "failed"

    def _on_killed(self, event: dict[str, Any]) -> None:
        """The run's process died without a word (its lock is free, no run_finished)."""
        self.state = "killed"
        self.messages.append(("error", f"the run was killed after step {event.get('step')} "
                              f"(no run_finished, its lock is free); continue it with "
                              f"--resume last"))

    def _on_run_finished(self, event: dict[str, Any]) -> None:
        if self.state not in ("failed", "stopped"):
            self.state = "finished"

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Remaining time at the average step rate since the run (or resume) started, its
        pauses left out; none once the run has ended."""
        if not (self.state in ("running", "paused") and self.total_steps and self.started_at
                and self.last_step_t and self.first_step is not None
                and self.step > self.first_step):
            return None
        training_s = self.last_step_t - self.started_at - self.paused_s
        rate = (self.step - self.first_step) / max(training_s, 1e-9)
        return (self.total_steps - self.step) / rate if rate > 0 else None

    def best_checkpoint(self) -> Checkpoint | None:
        return next((c for c in reversed(self.checkpoints) if c.best), None)


def _keep_last(config_toml: Any) -> int | None:
    """`[checkpoint] keep_last` from a run_started event's config (TOML text)."""
    if not isinstance(config_toml, str):
        return None
    try:
        value = tomllib.loads(config_toml).get("checkpoint", {}).get("keep_last")
    except (tomllib.TOMLDecodeError, AttributeError):
        return None
    return value if isinstance(value, int) and value >= 1 else None


def _record(series: dict[str, Series], name: str, step: int, t: float, value: Any) -> None:
    """Append a numeric value (bools and missing keys are not metrics)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if name not in series:
            series[name] = Series()
        series[name].append(step, t, float(value))


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return time.strftime("%H:%M:%S", time.gmtime(max(0, int(seconds))))
