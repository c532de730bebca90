"""What `redheart run` shows: Rich progress on a TTY, plain timestamped lines otherwise."""

from __future__ import annotations

import sys
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


class RunReporter:
    """Progress for one run; `quiet` prints only the run directory and the outcome."""

    def __init__(self, quiet: bool = False, tty: bool | None = None,
                 verbose: bool = False) -> None:
        self.console = Console(stderr=False, highlight=False, soft_wrap=True)
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.quiet = quiet
        self.verbose = verbose
        self.progress: StepProgress | None = None
        self.device = "cpu"
        self.task = None
        self.total = 0
        self.every = 1
        self._encoding = EncodingProgress(self.console, self.tty, self._line)

    def encoding(self, done: int, total: int) -> None:
        if not self.quiet:
            self._encoding.advance(done, total)

    def started(self, run_dir: Path, trainer: Trainer) -> None:
        self._encoding.close()
        self.total = trainer.total_steps
        self.device = str(trainer.device)
        self.every = 1 if self.verbose else max(1, self.total // 50)
        self._line(f"run directory {run_dir}")
        dist = trainer.dist
        ranks = f" x {dist.world} ranks ({dist.strategy}, {dist.backend})" if dist.active else ""
        self._line(f"{sum(trainer.model.module_params().values()) / 1e6:.1f}M params on "
                   f"{trainer.device}{ranks}, {'bf16' if trainer.bf16 else 'fp32'}, "
                   f"{self.total} steps from step {trainer.state.step}")
        if self.tty and not self.quiet and not self.verbose:
            # A console that wraps: the reporter's soft-wraps its lines (a path stays whole
            # for copying), and a live display cuts a soft-wrapped line at the edge.
            self.progress = StepProgress(Console(highlight=False))
            self.progress.start()
            self.task = self.progress.add_task("", total=self.total,
                                               completed=trainer.state.step)

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
        if outcome is not None:
            last = outcome.last_checkpoint
            self._line(f"{outcome.reason} at step {outcome.state.step}; last checkpoint "
                       f"{last if last else 'none'}")
            if outcome.profile_trace is not None:
                self._line(f"profile trace {outcome.profile_trace} (open it in "
                           f"ui.perfetto.dev, or point TensorBoard at its folder)")
        self._line(f"run directory {run_dir}")

    def _line(self, text: str) -> None:
        stamp = "" if self.tty else time.strftime("%Y-%m-%d %H:%M:%S ")
        self.console.print(f"{stamp}{text}", markup=False)
