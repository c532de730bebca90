"""What `redheart run` shows: Rich progress on a TTY, plain timestamped lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from redheart.memory.telemetry import process_rss_bytes, torch_memory
from redheart.render.encoding_progress import EncodingProgress
from redheart.render.reader_gone import ReaderGoneSafe
from redheart.render.run_outcome import best_on_disk, loss_text, outcome_line
from redheart.train.trainer import RunOutcome, StepResult, Trainer
from redheart.units import GIB, mfu_text


class StepProgress(Progress):
    """The bar on one line, the latest step's figures (loss per task, LR, speed, memory)
    on the line below, wrapped to the terminal.

    On one line the figures took the width first: at 100 columns Rich cut the line
    from the left, so the step count, the bar and the ETA were gone ("… epoch 6
    loss ..."). Rich documents `get_renderables` as the place for such layouts."""

    def __init__(self, console: Console) -> None:
        self.figures = ""         # first: Progress draws itself while it is being built
        super().__init__(TextColumn("step"), MofNCompleteColumn(), BarColumn(),
                         TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                         console=console)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.figures:
            yield Text(self.figures, overflow="fold")


def _memory_text(device: str) -> str:
    """GPU memory allocated by torch on CUDA, else this process's resident memory."""
    fields = torch_memory(device)
    if fields is not None:
        return f"mem {fields['allocated'] / GIB:.2f} GiB"
    return f"rss {process_rss_bytes() / GIB:.2f} GiB"


def _loss_text(loss: dict[str, float]) -> str:
    parts = [f"loss {loss['total']:.4f}"]
    parts += [f"{k} {v:.4f}" for k, v in loss.items() if k not in ("total", "moe")]
    return "  ".join(parts)


class RunLog:
    """The lines `redheart run` derives from the run's events (the same events as
    events.jsonl): every eval, every checkpoint written (and whether it is the new best),
    warnings, errors and control acknowledgements.

    Someone who trains under nohup reads only this log, so what picks `best` (the eval
    loss) and where each checkpoint went must be in it, one line per event. Step events
    are not among them (the reporter prints its own step lines, thinned to about 50 a run)
    and neither are memory samples (one a second). Also keeps the best eval of this launch
    for the final summary line. Listeners run in the emitting thread (the checkpoint
    writer's, the telemetry sampler's), hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._eval_loss: dict[int, float] = {}
        """Each eval's combined loss by step: a checkpoint event names only its step."""
        self.best: tuple[float | None, int, str] | None = None
        """(eval loss, step, checkpoint path) of this launch's newest best checkpoint."""

    def line(self, event: dict[str, Any]) -> str | None:
        """The log line of one event, or None for events the log leaves out."""
        kind = event.get("type")
        with self._lock:
            if kind == "eval":
                return self._eval(event)
            if kind == "checkpoint":
                return self._checkpoint(event)
        if kind in ("warning", "error"):
            where = "".join(f"  {key} {event[key]}" for key in ("module", "step")
                            if event.get(key) is not None)
            hint = f"  hint: {event['hint']}" if event.get("hint") else ""
            return f"{kind}: {event.get('message', '')}{where}{hint}"
        if kind == "state" and (event.get("command") or event.get("signal")):
            # a control command or a signal acknowledged; the plain "running" at the start
            # and "finished" at the end say nothing the other lines do not
            cause = event.get("command") or event.get("signal")
            extra = "".join(f"  {key} {event[key]}" for key in ("lr", "checkpoint")
                            if event.get(key) is not None)
            return f"{event.get('state')} at step {event.get('step')} ({cause}){extra}"
        return None

    def _eval(self, event: dict[str, Any]) -> str:
        metrics = event.get("metrics") or {}
        loss = metrics.get("loss")
        step = event.get("step")
        if isinstance(loss, (int, float)) and isinstance(step, int):
            self._eval_loss[step] = float(loss)
        tasks = "  ".join(f"{name} {loss_text(value)}" for name, value in metrics.items()
                          if name != "loss")
        threshold = event.get("regret_threshold")
        return (f"eval at step {step}  {tasks}  eval loss {loss_text(loss)} (sum of the tasks; "
                f"picks best)"
                + (f"  regret threshold {loss_text(threshold)}" if threshold is not None else ""))

    def _checkpoint(self, event: dict[str, Any]) -> str:
        step, path = event.get("step"), str(event.get("path"))
        text = f"checkpoint step {step} written: {path}"
        if not event.get("best"):
            return text
        loss = self._eval_loss.get(step) if isinstance(step, int) else None
        self.best = (loss, step if isinstance(step, int) else -1, path)
        return f"{text}  new best (eval loss {loss_text(loss)})"

    def best_text(self, run_dir: Path, best_loss: float | None) -> str:
        """`best eval loss L at step N (path)`: this launch's newest best, else the `best`
        checkpoint on disk (a resumed launch that has not beaten an earlier one)."""
        with self._lock:
            best = self.best
        if best is not None:
            loss, step, path = best
            return (f"best eval loss {loss_text(loss if loss is not None else best_loss)} at "
                    f"step {step} ({path})")
        return best_on_disk(run_dir)


class RunReporter:
    """Progress for one run; `quiet` prints only the run directory and the outcome."""

    def __init__(self, quiet: bool = False, tty: bool | None = None,
                 verbose: bool = False) -> None:
        # A closed log pipe (`| tee` killed with its SSH session) must not end the run.
        self.console = Console(file=ReaderGoneSafe(), highlight=False, soft_wrap=True)
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.quiet = quiet
        self.verbose = verbose
        self.progress: StepProgress | None = None
        self.device = "cpu"
        self.task = None
        self.total = 0
        self.every = 1
        self._encoding = EncodingProgress(self.console, self.tty, self._line)
        self.log = RunLog()
        self._held: list[dict[str, Any]] | None = []
        """Events before `started` (a cleared stale lock, --resume's accepted changes): told
        after the run directory's line, which says whose they are."""
        self._finished: dict[str, Any] | None = None
        """The run_finished event's summary, for the last line."""
        self._started = False
        """`started` was called: the run got past its checks (a resumed checkpoint's too)."""

    def event(self, event: dict[str, Any]) -> None:
        """One event of the run as it is written (a listener of its EventWriter)."""
        if event.get("type") == "run_finished":
            self._finished = event.get("summary") or {}
            return
        if self.quiet:
            self.log.line(event)    # not printed, but the summary's best is kept
            return
        if self._held is not None:
            self._held.append(event)
            return
        self._event_line(event)

    def _event_line(self, event: dict[str, Any]) -> None:
        text = self.log.line(event)
        if text is None:
            return
        if self.progress is not None:
            # above the live bar, as Rich prints through the console of a live display
            self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self._line(text, event.get("t"))

    def _release_held(self) -> None:
        """Print what came before `started`. Only the main thread emits until then (the
        telemetry sampler and the checkpoint writer start with training), so no event
        can slip in between the read and the reset."""
        held, self._held = self._held or [], None
        for event in held:
            self._event_line(event)

    def encoding(self, done: int, total: int) -> None:
        if not self.quiet:
            self._encoding.advance(done, total)

    def started(self, run_dir: Path, trainer: Trainer) -> None:
        self._encoding.close()
        self.total = trainer.total_steps
        self.device = str(trainer.device)
        self.every = 1 if self.verbose else max(1, self.total // 50)
        self._started = True
        self._line(f"run directory {run_dir}")
        dist = trainer.dist
        ranks = f" x {dist.world} ranks ({dist.strategy}, {dist.backend})" if dist.active else ""
        self._line(f"{sum(trainer.model.module_params().values()) / 1e6:.1f}M params on "
                   f"{trainer.device}{ranks}, {'bf16' if trainer.bf16 else 'fp32'}, "
                   f"{self.total} steps from step {trainer.state.step}")
        if self.tty and not self.quiet and not self.verbose:
            # A console that wraps: the reporter's soft-wraps its lines (a path stays whole
            # for copying), and a live display cuts a soft-wrapped line at the edge.
            self.progress = StepProgress(Console(file=ReaderGoneSafe(), highlight=False))
            self.progress.start()
            self.task = self.progress.add_task("", total=self.total,
                                               completed=trainer.state.step)
        self._release_held()

    def step(self, result: StepResult, state: Any) -> None:
        if self.quiet:
            return
        rate = result.samples / result.seconds if result.seconds else 0.0
        text = (f"epoch {state.epoch}  {_loss_text(result.loss)}  lr {result.lr:.2e}  "
                f"|g| {result.grad_norm:.2f}  {rate:.1f} samples/s{mfu_text(result.mfu)}  "
                f"{_memory_text(self.device)}"
                + ("  SKIPPED" if result.skipped else ""))
        if self.progress is not None:
            self.progress.figures = text
            self.progress.update(self.task, completed=state.step)
        elif state.step % self.every == 0 or state.step == self.total:
            self._line(f"step {state.step}/{self.total}  {text}")

    def finished(self, run_dir: Path, outcome: RunOutcome | None) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        self._release_held()
        if outcome is not None:
            last = outcome.last_checkpoint
            best_loss = (self._finished or {}).get("best_loss", outcome.state.best_loss)
            self._line(outcome_line(outcome.reason, outcome.state.step, self.total,
                                    self.log.best_text(run_dir, best_loss), last))
            if outcome.profile_trace is not None:
                self._line(f"profile trace {outcome.profile_trace} (open it in "
                           f"ui.perfetto.dev, or point TensorBoard at its folder)")
        if outcome is None and not self._started:
            return   # refused before it started (e.g. its --resume checkpoint): the error
            # line is the whole answer, and the refusal wrote nothing to look at there
        self._line(f"run directory {run_dir}")

    def _line(self, text: str, when: float | None = None) -> None:
        """A line, stamped off a TTY; `when` is an event's own time (else now)."""
        stamp = "" if self.tty else time.strftime("%Y-%m-%d %H:%M:%S ", time.localtime(when))
        self.console.print(f"{stamp}{text}", markup=False)
