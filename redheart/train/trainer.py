"""The training engine: `Trainer.train_step` in three stages, and the loop around it.

FORWARD runs backbone -> heads -> analyzers -> auxiliary modules (the
unified model); COMPUTE turns outputs into masked task losses and combines
them; UPDATE clips, checks for non-finite values module by module, steps
AdamW and the schedule. The loop adds evaluation, checkpoints, events and
the control channel, all between steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from redheart.config import Config, accumulation_steps, validate
from redheart.data.batching import Batch, BatchPlan, Featurizer, loader, source_lengths
from redheart.data.encoder import TextEncoder
from redheart.data.sources import SourceData
from redheart.errors import RedHeartError
from redheart.model.catalog import TASKS, ExecutionMode
from redheart.model.unified import UnifiedModel
from redheart.runs.checkpoints import (
    TrainState,
    checkpoint_name,
    load_checkpoint,
    pointer_target,
    snapshot,
    write_checkpoint,
)
from redheart.runs.events import EventsWriteError, EventWriter
from redheart.train.control import ControlReader
from redheart.train.losses import LossSettings, class_weights, regret_side_weights
from redheart.train.optimizers import build_optimizer
from redheart.train.schedule import learning_rate
from redheart.train.stages import combine_losses, compute_stage, forward_stage

MAX_STEP_EVENTS_PER_S = 20
"""Step events are rate-limited so a fast GPU run cannot flood events.jsonl."""


class TrainingError(RedHeartError):
    """Training cannot continue (non-finite values, too many skipped steps); exit 1."""

    exit_code = 1


@dataclass
class StepResult:
    """What one optimizer step did."""

    loss: dict[str, float]
    """"total" plus one entry per task in the batch."""
    grad_norm: float
    module_grad_norms: dict[str, float]
    lr: float
    samples: int
    tokens: int
    skipped: bool = False
    seconds: float = 0.0


@dataclass
class RunOutcome:
    state: TrainState
    reason: str
    """"done", "stopped" (control or signal)."""
    last_checkpoint: Path | None = None
    history: list[float] = field(default_factory=list)


def resolve_device(config: Config) -> torch.device:
    """The device the profile asks for; CUDA asked for but absent is an error, not a fallback."""
    wanted = config.train.device
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RedHeartError(f"{config.source}: [train] device = \"cuda\" but no CUDA GPU is "
                            f"visible; run on a GPU machine or --set train.device=cpu")
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(wanted)


class Trainer:
    """Owns the model, optimizer, data plan and run state of one run."""

    def __init__(self, config: Config, train_sources: list[SourceData],
                 eval_sources: list[SourceData], featurizer: Featurizer,
                 events: EventWriter | None = None, run_dir: Path | None = None,
                 encoder: TextEncoder | None = None) -> None:
        validate(config)  # configs built in code get the same checks as profiles
        self.config = config
        self.device = resolve_device(config)
        self.bf16 = config.train.precision == "bf16" or (
            config.train.precision == "auto" and self.device.type == "cuda")
        torch.manual_seed(config.run.seed)
        self.model = UnifiedModel(config.model, ExecutionMode.TRAINING).to(self.device)
        self.encoder = encoder
        """The text encoder when it is trained (`[data] encoder_trainable`), else None."""
        if encoder is not None:
            encoder.model.to(self.device).train()
        self.model.backbone.transformer.checkpoint_layers = \
            config.memory.activation_checkpointing
        self.optimizer = build_optimizer(self.model, self._extra_modules(), config, self.device)
        modules = dict(self.model.named_children())
        if encoder is not None:
            modules["encoder"] = encoder.model
        self._module_names = list(modules)
        self._owned_params = [(i, p) for i, m in enumerate(modules.values())
                              for p in m.parameters()]
        """(module index, parameter): which module each gradient belongs to."""
        self.train_sources, self.eval_sources = train_sources, eval_sources
        self.featurizer = featurizer
        train_examples = [e for s in train_sources for e in s.examples]
        self.losses = LossSettings(
            class_weights(train_examples), config.train.focal_gamma,
            regret_side_weights(train_examples, config.train.regret_balance))
        self.plan = BatchPlan(source_lengths(train_sources, featurizer),
                              [s.source.weight for s in train_sources],
                              config.train.batch_size, config.run.seed)
        per_epoch = self.plan.batches_per_epoch()
        self.total_steps = config.train.max_steps or config.train.epochs * per_epoch
        self.state = TrainState()
        self.events = events
        self.run_dir = run_dir
        self.control = ControlReader(run_dir) if run_dir else None
        self.stop_requested: str | None = None
        self.paused = False
        self._last_step_event = 0.0
        self._checkpointed_step: int | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending_write: Future | None = None

    # ------------------------------------------------------------------ set-up

    def _extra_modules(self) -> dict[str, torch.nn.Module]:
        return {"encoder": self.encoder.model} if self.encoder is not None else {}

    def resume(self, checkpoint: Path) -> dict[str, Any]:
        self.state, meta = load_checkpoint(checkpoint, self.model, self.optimizer,
                                           self._extra_modules())
        return meta

    # --------------------------------------------------------------- one step

    def train_step(self, batch: Batch) -> StepResult:
        """FORWARD -> COMPUTE -> UPDATE for one optimizer step (with accumulation)."""
        if self.optimizer is None:
            raise TrainingError("train_step needs an optimizer: training without one would "
                                "silently change nothing")
        start = time.perf_counter()
        self._mode(training=True)
        accum = accumulation_steps(self.config)
        rows = len(batch)
        totals: dict[str, float] = {}
        counts = _task_counts(batch) if accum > 1 else {}
        for chunk in _split(batch, accum):
            weight = len(chunk) / rows
            with self._autocast():
                outputs = self._forward(chunk)                       # FORWARD
                losses = self._compute(outputs)                      # COMPUTE
            if accum > 1:
                losses = _as_share_of_batch(losses, chunk, counts, weight)
            total = self._combine(losses)
            (total * weight).backward()
            for name, value in {**losses, "total": total}.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach()) * weight
        return self._update(totals, rows, int(batch.mask.sum()), start)  # UPDATE

    def _mode(self, training: bool) -> None:
        self.model.train(training)
        if self.encoder is not None:
            self.encoder.model.train(training)

    def _autocast(self):
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def _forward(self, batch: Batch) -> dict[str, Any]:
        return forward_stage(self.model, batch.to(self.device, non_blocking=True), self._states)

    def _states(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token states: cached ones as they are, or the trained encoder's of token ids."""
        return inputs if self.encoder is None else self.encoder.states(inputs, mask)

    def _compute(self, forward: dict[str, Any]) -> dict[str, torch.Tensor]:
        return compute_stage(forward, self.losses)

    def _combine(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        return combine_losses(self.model, losses, self.config.train)

    def _update(self, totals: dict[str, float], rows: int, tokens: int,
                start: float) -> StepResult:
        norms, grads, total_norm = self._module_grad_norms()
        grad_norm = float(total_norm)
        bad = [name for name, n in norms.items() if not math.isfinite(n)]
        lr = self.state.lr_scale * learning_rate(
            self.state.step, self.config.train.lr, self.config.train.warmup_steps,
            self.total_steps, self.config.train.eta_min)
        if bad or not math.isfinite(totals["total"]):
            return self._nonfinite(totals, norms, bad, lr, rows, tokens, start)
        if self.config.train.grad_clip > 0 and grads:
            torch.nn.utils.clip_grads_with_norm_(grads, self.config.train.grad_clip, total_norm)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        # A step completes only once the previous checkpoint is on disk, so a kill at any
        # moment loses at most checkpoint.every_steps steps (the write overlaps this
        # step's forward and backward).
        self.wait_for_checkpoint()
        if not self.config.train.no_param_update:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        self.state.skipped = 0
        return StepResult(totals, grad_norm, norms, lr, rows, tokens,
                          seconds=time.perf_counter() - start)

    def _module_grad_norms(self) -> tuple[dict[str, float], list[torch.Tensor], torch.Tensor]:
        """Gradient norm per module, the gradients, and their total norm, in one fused pass.

        The same norms serve the report, the non-finite check and clipping, so
        no gradient is read twice.
        """
        owners, grads = [], []
        for owner, param in self._owned_params:
            if param.grad is not None:
                owners.append(owner)
                grads.append(param.grad)
        if not grads:
            return {}, [], torch.zeros(())
        squares = torch.stack(torch._foreach_norm(grads)).float() ** 2
        index = torch.tensor(owners, device=squares.device)
        per_module = torch.zeros(len(self._module_names), device=squares.device)
        per_module.index_add_(0, index, squares)
        values = per_module.sqrt().tolist()
        norms = {self._module_names[i]: values[i] for i in sorted(set(owners))}
        return norms, grads, per_module.sum().sqrt()

    def _nonfinite(self, totals, norms, bad, lr, rows, tokens, start) -> StepResult:
        self.optimizer.zero_grad(set_to_none=True)
        self.wait_for_checkpoint()  # so "last good checkpoint" names one that is complete
        where = f"module '{bad[0]}'" if bad else "the loss"
        name = pointer_target(self.run_dir / "checkpoints", "last") if self.run_dir else None
        last = str(self.run_dir / "checkpoints" / name) if name else None
        message = f"non-finite gradient in {where} at step {self.state.step}"
        if self.config.train.on_nonfinite == "skip":
            self.state.skipped += 1
            self.state.skipped_total += 1
            self._emit("warning", message=f"{message}; step skipped "
                       f"({self.state.skipped} in a row)", module=bad[0] if bad else None,
                       step=self.state.step)
            if self.state.skipped > self.config.train.max_skips:
                raise TrainingError(f"{message}: {self.state.skipped} consecutive steps skipped "
                                    f"(max_skips = {self.config.train.max_skips}); last good "
                                    f"checkpoint: {last or 'none'}")
            return StepResult(totals, float("nan"), norms, lr, rows, tokens, skipped=True,
                              seconds=time.perf_counter() - start)
        hint = (f"resume from {last} with a lower lr, or set train.on_nonfinite = \"skip\""
                if last else "lower train.lr, or set train.on_nonfinite = \"skip\"")
        self._emit("error", message=message, module=bad[0] if bad else None,
                   step=self.state.step, last_checkpoint=last, hint=hint)
        raise TrainingError(f"{message}; last good checkpoint: {last or 'none'}; {hint}")

    # -------------------------------------------------------------- evaluation

    @torch.no_grad()
    def evaluate(self) -> dict[str, float] | None:
        """Mean task losses on the evaluation examples (unweighted), for `best`."""
        if not any(s.examples or s.pairs for s in self.eval_sources):
            return None
        self._mode(training=False)
        sums: dict[str, float] = {}
        count = 0
        plan = BatchPlan(source_lengths(self.eval_sources, self.featurizer),
                         [1.0] * len(self.eval_sources), self.config.train.batch_size, 0)
        for batch in loader(self.eval_sources, self.featurizer, plan.every_row_once()):
            with self._autocast():
                losses = self._compute(self._forward(batch))
            for name, value in losses.items():
                if name in TASKS:
                    sums[name] = sums.get(name, 0.0) + float(value) * len(batch)
            count += len(batch)
        metrics = {name: value / count for name, value in sums.items()}
        metrics["loss"] = sum(metrics.values())
        return metrics

    # -------------------------------------------------------------------- loop

    def _emit(self, type_: str, **fields: Any) -> None:
        if self.events is not None:
            self.events.emit(type_, **fields)

    def checkpoint(self, metrics: dict[str, Any], is_best: bool = False) -> Path | None:
        """Snapshot now, write in the background (one write in flight at a time).

        Training continues while the files are written and fsynced; the
        `checkpoint` event is emitted, and the pointers move, only when the
        folder is complete.
        """
        if self.run_dir is None:
            return None
        self.wait_for_checkpoint()
        self._checkpointed_step = self.state.step
        snap = snapshot(self.model, self.optimizer, self.state, self._extra_modules())
        root = self.run_dir / "checkpoints"

        def write() -> None:
            path = write_checkpoint(root, snap, self.config, metrics, is_best,
                                    self.config.checkpoint.keep_last)
            self._emit("checkpoint", path=str(path), step=snap.state.step, best=is_best)

        self._pending_write = self._writer.submit(write)
        return root / checkpoint_name(snap.state.step)

    def close(self) -> None:
        """Let a checkpoint being written finish (a failure was already reported), then
        stop the writer thread."""
        try:
            self.wait_for_checkpoint()
        except RedHeartError:
            pass
        self._writer.shutdown(wait=True)

    def wait_for_checkpoint(self) -> None:
        """Block until the checkpoint being written is on disk; its failure stops the run."""
        pending, self._pending_write = self._pending_write, None
        if pending is None:
            return
        try:
            pending.result()
        except OSError as exc:
            with suppress(EventsWriteError):  # the same full disk may refuse the event
                self._emit("error", message=f"checkpoint write failed: {exc}",
                           step=self.state.step,
                           hint="free disk space or fix the run directory's permissions")
            raise TrainingError(f"checkpoint write failed at step {self.state.step}: {exc}; "
                                f"earlier checkpoints are intact") from None

    def _apply_control(self) -> None:
        if self.control is None:
            return
        while True:
            for command in self.control.poll():
                self._command(command)
            if not self.paused or self.stop_requested:
                return
            time.sleep(0.2)

    def _command(self, command: dict[str, Any]) -> None:
        cmd = command["cmd"]
        if cmd == "pause":
            self.paused = True
            self._emit("state", state="paused", step=self.state.step, command=cmd)
        elif cmd == "resume":
            self.paused = False
            self._emit("state", state="running", step=self.state.step, command=cmd)
        elif cmd == "stop":
            self.stop_requested = "control"
            self._emit("state", state="stopping", step=self.state.step, command=cmd)
        elif cmd == "save-now":
            path = self.checkpoint({"reason": "save-now"})
            self.wait_for_checkpoint()
            self._emit("state", state="paused" if self.paused else "running",
                       step=self.state.step, command=cmd, checkpoint=str(path))
        elif cmd == "set-lr":
            lr = command.get("lr")
            if isinstance(lr, (int, float)) and lr > 0:
                self.state.lr_scale = float(lr) / self.config.train.lr
                self._emit("state", state="paused" if self.paused else "running",
                           step=self.state.step, command=cmd, lr=float(lr))
            else:
                self._emit("warning", message=f"set-lr ignored: lr must be a positive number, "
                           f"got {lr!r}")

    def fit(self, on_step: Callable[[StepResult, TrainState], None] | None = None) -> RunOutcome:
        """Train until total_steps, a stop command or a signal; checkpoint on the way out."""
        outcome = RunOutcome(self.state, "done")
        every = self.config.checkpoint.every_steps
        per_epoch = self.plan.batches_per_epoch()
        has_eval = any(s.examples or s.pairs for s in self.eval_sources)
        self._emit("state", state="running", step=self.state.step)
        while self.state.step < self.total_steps:
            plan = self.plan.epoch(self.state.epoch)
            batches = loader(self.train_sources, self.featurizer, plan,
                             start=self.state.batch_index, cuda=self.device.type == "cuda")
            for batch in batches:
                self._apply_control()
                if self.stop_requested:
                    break
                result = self.train_step(batch)
                self.state.batch_index += 1
                if not result.skipped:
                    outcome.history.append(result.loss["total"])
                    self._step_event(result)
                if on_step:
                    on_step(result, self.state)
                epoch_ends = self.state.batch_index >= per_epoch and has_eval
                if self.state.step % every == 0 and not result.skipped and not epoch_ends:
                    # (at an epoch's end the evaluated checkpoint below is this one)
                    outcome.last_checkpoint = self.checkpoint({"loss": result.loss})
                if self.state.step >= self.total_steps:
                    break
            if self.stop_requested:
                outcome.reason = "stopped"
                if self.stop_requested != "control":  # a signal: acknowledged here
                    self._emit("state", state="stopping", step=self.state.step,
                               signal=self.stop_requested)
                break
            if self.state.batch_index >= per_epoch:
                self.state.epoch += 1
                self.state.batch_index = 0
                outcome.last_checkpoint = self._end_of_epoch() or outcome.last_checkpoint
        if outcome.reason == "done" and self.state.batch_index:
            outcome.last_checkpoint = self._end_of_epoch() or outcome.last_checkpoint
        if self._checkpointed_step != self.state.step or outcome.last_checkpoint is None:
            reason = self.stop_requested or "end of run"
            outcome.last_checkpoint = self.checkpoint({"reason": reason})
        self.wait_for_checkpoint()
        return outcome

    def _end_of_epoch(self) -> Path | None:
        """Evaluate and checkpoint (marking `best`); without evaluation data, nothing."""
        metrics = self.evaluate()
        if metrics is None:
            return None
        self._emit("eval", step=self.state.step, epoch=self.state.epoch, metrics=metrics)
        best = self.state.best_loss is None or metrics["loss"] < self.state.best_loss
        if best:
            self.state.best_loss = metrics["loss"]
        return self.checkpoint({"eval": metrics}, is_best=best)

    def _step_event(self, result: StepResult) -> None:
        now = time.monotonic()
        if now - self._last_step_event < 1.0 / MAX_STEP_EVENTS_PER_S and \
                self.state.step % 100 != 0:
            return
        self._last_step_event = now
        self._emit("step", step=self.state.step, epoch=self.state.epoch,
                   loss=result.loss, lr=result.lr, grad_norm=result.grad_norm,
                   grad_norm_by_module=result.module_grad_norms,
                   samples_per_s=result.samples / result.seconds,
                   tokens_per_s=result.tokens / result.seconds, mfu=None)


TASK_FIELD = {"emotion": "emotion", "bentham": "hedonic", "regret": "regret", "surd": "surd"}
"""The target whose rows each task's masked mean runs over."""


def _task_counts(batch: Batch) -> dict[str, torch.Tensor]:
    return {task: batch.present[field].sum() for task, field in TASK_FIELD.items()
            if field in batch.present}


def _as_share_of_batch(losses: dict[str, torch.Tensor], chunk: Batch,
                       counts: dict[str, torch.Tensor], weight: float) -> dict[str, torch.Tensor]:
    """Rescale a micro-batch's masked means so the accumulated step equals the whole batch's.

    A micro-batch averages over its own labelled rows; weighting it by its
    share of rows would over-count a micro-batch that happens to hold few
    labels. Scaled by (its labelled rows / the batch's) / weight instead, the
    accumulated sum is exactly the whole batch's masked mean.
    """
    scaled = dict(losses)
    for task, total in counts.items():
        if task in scaled and total > 0:
            mine = chunk.present[TASK_FIELD[task]].sum()
            scaled[task] = scaled[task] * (mine / (total * weight)).to(scaled[task].dtype)
    return scaled


def _split(batch: Batch, parts: int) -> list[Batch]:
    """Micro-batches for gradient accumulation (row slices of every tensor)."""
    if parts == 1 or len(batch) < parts:
        return [batch]
    size = -(-len(batch) // parts)
    chunks = []
    for begin in range(0, len(batch), size):
        sl = slice(begin, begin + size)

        def cut(x, sl=sl):
            return None if x is None else x[sl]

        chunks.append(Batch(batch.inputs[sl], batch.mask[sl],
                            {k: v[sl] for k, v in batch.targets.items()},
                            {k: v[sl] for k, v in batch.present.items()},
                            cut(batch.pair_inputs), cut(batch.pair_mask),
                            cut(batch.less_ethical), batch.source))
    return chunks
