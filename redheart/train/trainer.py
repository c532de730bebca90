"""The training engine: `Trainer.train_step` in three stages, and the loop around it.

FORWARD runs backbone -> heads -> analyzers -> auxiliary modules (the
unified model); COMPUTE turns outputs into masked task losses and combines
them; UPDATE clips, checks for non-finite values module by module, steps
AdamW and the schedule. The loop adds evaluation (`evaluation.py`),
checkpoints (`runs/checkpoint_writer.py`), events and the control channel
(`control.py`), all between steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch

from redheart.config import Config, longest_budget, validate
from redheart.data.batching import Batch, BatchPlan, Featurizer, loader, source_lengths
from redheart.data.encoder import TextEncoder
from redheart.data.sources import SourceData
from redheart.errors import RedHeartError, TrainingError
from redheart.model.catalog import ExecutionMode
from redheart.model.unified import UnifiedModel
from redheart.runs.checkpoint_writer import CheckpointWriter
from redheart.runs.checkpoints import TrainState, load_checkpoint
from redheart.runs.events import EventWriter
from redheart.runs.recovery import read_meta
from redheart.step_shape import step_shape
from redheart.train.compiled_step import StepCompiler, is_compile_error
from redheart.train.control import RunControl
from redheart.train.data_digest import data_digest, refuse_changed_data
from redheart.train.distributed import (
    SINGLE,
    DistContext,
    DistributedError,
    StepModule,
    count_sync,
    micro_batches,
    rank_rows,
    sync_gradients,
    wrap_for_training,
)
from redheart.train.evaluation import regret_threshold, task_means
from redheart.train.gradients import ModuleGradients, clip
from redheart.train.losses import (
    BatchShare,
    LossSettings,
    class_weights,
    regret_side_weights,
)
from redheart.train.mfu import MfuMeter
from redheart.train.optimizers import build_optimizer
from redheart.train.regret_decision import calibration_sources
from redheart.train.schedule import learning_rate
from redheart.train.stages import combine_losses, compute_stage, forward_stage
from redheart.train.step_profiler import STEPS_BEFORE, StepProfiler
from redheart.train.trained_rows import add_rows

T = TypeVar("T")

MAX_STEP_EVENTS_PER_S = 20
"""Step events are rate-limited so a fast GPU run cannot flood events.jsonl."""


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
    mfu: float | None = None
    """Model FLOPs utilisation (`train/mfu.py`); None when not measured (no peak, a skipped
    step, a trainer without events)."""


@dataclass
class RunOutcome:
    state: TrainState
    reason: str
    """"done", "stopped" (control or signal)."""
    last_checkpoint: Path | None = None
    history: list[float] = field(default_factory=list)
    profile_trace: Path | None = None
    """The torch.profiler trace of `--profile-steps`, when one was written."""


def resolve_device(config: Config, local_rank: int = 0) -> torch.device:
    """The device the profile asks for; CUDA asked for but absent is an error, not a fallback.

    Under torchrun each process takes the GPU of its local rank.
    """
    wanted = config.train.device
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RedHeartError(f"{config.source}: [train] device = \"cuda\" but no CUDA GPU is "
                            f"visible; run on a GPU machine or --set train.device=cpu")
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device("cuda", local_rank) if wanted == "cuda" else torch.device(wanted)


class Trainer:
    """Owns the model, optimizer, data plan and run state of one run."""

    def __init__(self, config: Config, train_sources: list[SourceData],
                 eval_sources: list[SourceData], featurizer: Featurizer,
                 events: EventWriter | None = None, run_dir: Path | None = None,
                 encoder: TextEncoder | None = None, dist: DistContext = SINGLE,
                 profile_steps: int = 0) -> None:
        validate(config)  # configs built in code get the same checks as profiles
        self.config = config
        self.dist = dist
        """This process's place in a torchrun job; only rank 0 gets `events` and writes."""
        self.device = resolve_device(config, dist.local_rank)
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
        self.compiler = StepCompiler(config.train.compile, self.device,
                                     longest_budget(config.data).max_tokens,
                                     lambda message: self._emit("warning", message=message))
        self.step_module = self._wrap(encoder)
        """The model as a step runs it: plain, under DDP, or FSDP2-sharded."""
        self.optimizer = build_optimizer(self.model, self._extra_modules(), config, self.device)
        self.gradients = ModuleGradients(dict(self.model.named_children())
                                         | self._extra_modules())
        self.train_sources, self.eval_sources = train_sources, eval_sources
        self.featurizer = featurizer
        train_examples = [e for s in train_sources for e in s.examples]
        self._calibration = calibration_sources(train_sources, config.run.seed)
        """Training rows the regret decision threshold is fitted on at each evaluation."""
        self.losses = LossSettings(
            class_weights(train_examples), config.train.focal_gamma,
            regret_side_weights(train_examples, config.train.regret_balance))
        self.plan = BatchPlan(source_lengths(train_sources, featurizer),
                              [s.source.weight for s in train_sources],
                              config.train.batch_size, config.run.seed)
        self.batches_per_epoch = self.plan.batches_per_epoch()
        self.total_steps = config.train.max_steps or config.train.epochs * self.batches_per_epoch
        self.shape = step_shape(config, dist.world)
        """This rank's rows and forward passes per optimizer step of a full batch."""
        self.data = data_digest(train_sources, eval_sources)
        """The rows the data position points into, recorded in each checkpoint."""
        self.state = TrainState(data=self.data)
        self.resumed_from: Path | None = None
        """The checkpoint this launch continues, if it resumed one."""
        self.events = events
        self.checkpoints = CheckpointWriter(run_dir, config, self._emit)
        self.control = RunControl(run_dir, dist, config.train.lr, self._emit)
        self.profiler = StepProfiler(profile_steps, run_dir, self.device, dist.rank)
        if dist.active:
            self.compiler.refuse("a torchrun job trains eagerly (FSDP2's unsharding hooks, "
                                 "DDP's reducer after a failed compilation)")
        self._last_step_event = 0.0
        self.mfu = None if events is None else MfuMeter.for_run(
            config, self.device, "bf16" if self.bf16 else "fp32", dist,
            [self.model, *self._extra_modules().values()],
            lambda message: self._emit("warning", message=message))
        """Counts each step's FLOPs for its `mfu`; only the trainer that writes events."""
        if self.mfu is not None:
            self.mfu.watch(self.step_module)

    # ------------------------------------------------------------------ set-up

    def _wrap(self, encoder: TextEncoder | None) -> torch.nn.Module:
        step = StepModule(self.model, encoder.model if encoder is not None else None,
                          self._step_forward)
        if not self.dist.active:
            return step
        memory = self.config.memory
        if self.dist.sharded and (memory.offload_analyzer_optimizer or
                                  memory.optimizer == "adamw8bit"):
            raise DistributedError(f"{self.config.source}: FSDP2 shards the optimizer state "
                                   f"already; set [memory] offload_analyzer_optimizer = false "
                                   f"and optimizer = \"adamw\"")
        for module in self.model.modules():
            if hasattr(module, "count_sync"):   # MoE balance loss over the global batch
                module.count_sync = count_sync(self.dist)
        # Every rank built the same initial weights from run.seed; dropout
        # then draws a different stream per rank, as separate rows deserve.
        torch.manual_seed(self.config.run.seed + 1_000_003 * self.dist.rank)
        return wrap_for_training(step, self.dist)

    def _extra_modules(self) -> dict[str, torch.nn.Module]:
        return {"encoder": self.encoder.model} if self.encoder is not None else {}

    def resume(self, checkpoint: Path) -> dict[str, Any]:
        # Sharded: rank 0 reads the files and the shards come from it (a grown 1.3B
        # model's state is 16 GB, which every rank would otherwise hold in host memory).
        ranks = self.dist if self.dist.sharded and self.dist.active else None
        refuse_changed_data(checkpoint, (read_meta(checkpoint) or {}).get("data"), self.data)
        self.state, meta = load_checkpoint(checkpoint, self.model, self.optimizer,
                                           self._extra_modules(), ranks)
        self.state.data = self.data
        self.resumed_from = checkpoint
        if self.dist.rank > 0:  # the checkpoint holds rank 0's RNG; the others draw their own
            torch.manual_seed(self.config.run.seed + 1_000_003 * self.dist.rank
                              + self.state.step)
        return meta

    # --------------------------------------------------------------- one step

    def train_step(self, batch: Batch) -> StepResult:
        """FORWARD -> COMPUTE -> UPDATE for one optimizer step (with accumulation).

        The batch is the global one: in a distributed run this rank trains
        on its slice of rows. Every slice's losses are scaled to its share
        of the whole batch, so the gradients DDP or FSDP2 average are the
        gradients of the whole batch, and the logged losses, summed over
        ranks, are the whole batch's.
        """
        if self.optimizer is None:
            raise TrainingError("train_step needs an optimizer: training without one would "
                                "silently change nothing")
        start = time.perf_counter()
        result = self._compiled(lambda: self._train_step(batch, start))
        if self.mfu is not None and not result.skipped:
            result.mfu = self.mfu.step(result.seconds, result.samples)
        return result

    def _compiled(self, work: Callable[[], T]) -> T:
        """`work()`; when torch.compile fails in it, `work()` again eagerly (with a warning).

        Compilation happens in the first forward and backward of each mode
        (training, evaluation): no update was applied, but gradients may have
        begun to accumulate, so they are dropped.
        """
        try:
            return work()
        except Exception as error:
            if not self.compiler.active or not is_compile_error(error):
                raise
            if self.optimizer is not None:
                self.optimizer.zero_grad(set_to_none=True)
            self.compiler.fall_back(error)
            return work()

    def _train_step(self, batch: Batch, start: float) -> StepResult:
        self._mode(training=True)
        rows = len(batch)
        mine, share = rank_rows(rows, self.dist)
        local = batch if mine == slice(0, rows) else batch.rows(mine)
        chunks = local.split(micro_batches(rows, self.shape.accumulation_steps, self.dist))
        sliced = len(chunks) > 1 or self.dist.active
        # A batch smaller than the job runs whole on every rank: its labels count once per rank.
        replicas = round(len(local) / (share * rows))
        counts = _on_device({f: n * replicas for f, n in _field_counts(batch).items()},
                            self.device) if sliced else {}
        totals: dict[str, torch.Tensor] = {}
        """Each loss of the step, weighted and summed over micro-batches on the device in
        float64 (the arithmetic of reading each and summing on the host): read once, in
        `_update`, with the gradient norms."""
        for index, chunk in enumerate(chunks):
            weight = share * len(chunk) / len(local)
            with sync_gradients(self.step_module, self.dist, last=index == len(chunks) - 1):
                result = self.step_module(chunk, counts if sliced else None, weight)
                losses, total = result["losses"], result["total"]
                # DDP and FSDP2 average gradients over ranks; the shares already sum to 1.
                (total * (weight * self.dist.world)).backward()
            for name, value in {**losses, "total": total}.items():
                part = value.detach().double() * weight
                totals[name] = totals[name] + part if name in totals else part
        if self.dist.active:
            totals = self.dist.sum_tensors(totals)
        result = self._update(totals, rows, int(batch.mask.sum()), start)  # UPDATE
        if not result.skipped and self.state.trained_rows is not None:
            add_rows(self.state.trained_rows, batch)   # the global batch: the same on every rank
        return result

    def _mode(self, training: bool) -> None:
        self.model.train(training)
        if self.encoder is not None:
            self.encoder.model.train(training)

    def _autocast(self):
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def _forward(self, batch: Batch) -> dict[str, Any]:
        """FORWARD alone, eager, on this trainer's device: what bench/overhead.py's bare loop
        and bench/memory_gpu.py time and measure without the step around it."""
        return forward_stage(self.model, batch.to(self.device, non_blocking=True), self._states)

    def _step_forward(self, model: UnifiedModel, batch: Batch,
                      counts: dict[str, torch.Tensor] | None, weight: float,
                      keep_regret: bool = False) -> dict[str, Any]:
        """`_step_losses`, compiled when `[train] compile` is on (`compiled_step.py`)."""
        return self.compiler.run(self._step_losses, model, batch, counts, weight, keep_regret)

    def _step_losses(self, model: UnifiedModel, batch: Batch,
                     counts: dict[str, torch.Tensor] | None, weight: float,
                     keep_regret: bool = False) -> dict[str, Any]:
        """FORWARD and COMPUTE of one micro-batch, inside the step module's forward.

        DDP needs every parameter used inside its forward, the uncertainty
        weights of `combine` included; `counts` (the whole batch's labelled
        rows per task) scale a slice's losses to its share of the batch.
        """
        with self._autocast():
            outputs = forward_stage(model, batch.to(self.device, non_blocking=True),
                                    self._states)                          # FORWARD
            share = None if counts is None else BatchShare(counts, weight)
            losses = self._compute(outputs, share)                         # COMPUTE
        result = {"losses": losses, "total": self._combine(losses)}
        if keep_regret:             # the decision threshold's calibration reads predictions
            result["regret"] = outputs["outputs"]["regret"]
        return result

    def _states(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token states: cached ones as they are, or the trained encoder's of token ids."""
        return inputs if self.encoder is None else self.encoder.states(inputs, mask)

    def _compute(self, forward: dict[str, Any],
                 share: BatchShare | None = None) -> dict[str, torch.Tensor]:
        return compute_stage(forward, self.losses, share)

    def _combine(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        return combine_losses(self.model, losses, self.config.train)

    def _update(self, totals: dict[str, torch.Tensor], rows: int, tokens: int,
                start: float) -> StepResult:
        names = list(totals)
        reading = self.gradients.read(self.dist.sharded, torch.stack([totals[n] for n in names]))
        losses = dict(zip(names, reading.riders, strict=True))   # the step's one host read
        lr = self.state.lr_scale * learning_rate(
            self.state.step, self.config.train.lr, self.config.train.warmup_steps,
            self.total_steps, self.config.train.eta_min)
        result = StepResult(losses, reading.total_norm, reading.norms, lr, rows, tokens)
        bad = [name for name, n in reading.norms.items() if not math.isfinite(n)]
        if bad or not math.isfinite(losses["total"]):
            return self._nonfinite(result, bad, start)
        clip(reading.grads, result.grad_norm, self.config.train.grad_clip)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        # A step completes only once the previous checkpoint is on disk, so a kill at any
        # moment loses at most checkpoint.every_steps steps (the write overlaps this
        # step's forward and backward).
        self.checkpoints.wait(self.state.step)
        if not self.config.train.no_param_update:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        self.state.skipped = 0
        result.seconds = time.perf_counter() - start
        return result

    def _nonfinite(self, result: StepResult, bad: list[str], start: float) -> StepResult:
        """Skip the step or stop the run: `result` is the step as it was measured, `bad`
        the modules whose gradient norm is not finite (none: the loss itself is not)."""
        self.optimizer.zero_grad(set_to_none=True)
        last = self.checkpoints.last_complete(self.state.step)
        where = f"module '{bad[0]}'" if bad else "the loss"
        message = f"non-finite gradient in {where} at step {self.state.step}"
        if self.config.train.on_nonfinite == "skip":
            self.state.skipped += 1
            self.state.skipped_total += 1
            self._emit("warning", message=f"{message}; step skipped "
                       f"({self.state.skipped} in a row)", module=bad[0] if bad else None,
                       step=self.state.step)
            if self.state.skipped > self.config.train.max_skips:
                stopped = (f"{message}: {self.state.skipped} consecutive steps skipped "
                           f"(max_skips = {self.config.train.max_skips}); last good "
                           f"checkpoint: {last or 'none'}")
                self._emit("error", message=stopped, module=bad[0] if bad else None,
                           step=self.state.step, last_checkpoint=last, cause="nonfinite",
                           hint="lower train.lr, or raise train.max_skips")
                raise TrainingError(stopped)
            return replace(result, grad_norm=float("nan"), skipped=True,
                           seconds=time.perf_counter() - start)
        hint = (f"resume from {last} with a lower lr, or set train.on_nonfinite = \"skip\""
                if last else "lower train.lr, or set train.on_nonfinite = \"skip\"")
        self._emit("error", message=message, module=bad[0] if bad else None,
                   step=self.state.step, last_checkpoint=last, hint=hint, cause="nonfinite")
        raise TrainingError(f"{message}; last good checkpoint: {last or 'none'}; {hint}")

    # -------------------------------------------------------------- evaluation

    @property
    def _has_eval(self) -> bool:
        return any(s.examples or s.pairs for s in self.eval_sources)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float] | None:
        """Each task's mean loss over its own labelled evaluation rows, and their sum as
        `loss` (`evaluation.task_means`); None without evaluation data."""
        if not self._has_eval:
            return None
        self._mode(training=False)
        return self._compiled(lambda: task_means(
            self.step_module, self.eval_sources, self.featurizer, self.config.train.batch_size))

    @torch.no_grad()
    def calibrate_regret(self) -> float | None:
        """The WRONG threshold on predicted regret that maximises F1 on training rows."""
        if not self._calibration:
            return None
        self._mode(training=False)
        return self._compiled(lambda: regret_threshold(
            self.step_module, self._calibration, self.featurizer, self.config.train.batch_size))

    # -------------------------------------------------------------------- loop

    def fit(self, on_step: Callable[[StepResult, TrainState], None] | None = None) -> RunOutcome:
        """Train until total_steps, a stop command or a signal; checkpoint on the way out."""
        outcome = RunOutcome(self.state, "done")
        self._emit("state", state="running", step=self.state.step)
        self.profiler.start(self.state.step)
        try:
            self._fit(outcome, on_step)
        finally:
            self.profiler.stop()
            outcome.profile_trace = self.profiler.trace
        if self.profiler.steps and self.profiler.trace is None:
            self._emit("warning", message=f"--profile-steps {self.profiler.steps}: the run "
                       f"ended before step {STEPS_BEFORE + 1} of this launch, so nothing "
                       f"was recorded")
        return outcome

    def _fit(self, outcome: RunOutcome,
             on_step: Callable[[StepResult, TrainState], None] | None) -> None:
        """`fit`'s epochs, evaluations and last checkpoint, inside the step profiler."""
        if self.resumed_from is not None and self.state.step >= self.total_steps:
            # A finished run launched again (a resubmitted job, a lowered max_steps): its
            # checkpoint is the end. Evaluating again and rewriting it cost minutes and
            # gigabytes of writes for the same numbers, and printed them as new work.
            outcome.last_checkpoint = self.resumed_from
            self._emit("warning", message=f"nothing left to train: {self.resumed_from.name} "
                       f"is at step {self.state.step} and the run has {self.total_steps} "
                       f"steps; raise train.max_steps (or train.epochs) to train further")
            return
        while self.state.step < self.total_steps:
            stopped = self._train_epoch(outcome, on_step)
            if stopped or self.control.agree_on_stop():
                outcome.reason = "stopped"
                if self.control.stop_requested != "control":  # a signal: acknowledged here
                    self._emit("state", state="stopping", step=self.state.step,
                               signal=self.control.stop_requested)
                break
            if self.state.batch_index >= self.batches_per_epoch:
                self.state.epoch += 1
                self.state.batch_index = 0
                outcome.last_checkpoint = self._end_of_epoch() or outcome.last_checkpoint
        if outcome.reason == "done" and self.state.batch_index:
            outcome.last_checkpoint = self._end_of_epoch() or outcome.last_checkpoint
        if self.checkpoints.saved_step != self.state.step or outcome.last_checkpoint is None:
            reason = self.control.stop_requested or "end of run"
            outcome.last_checkpoint = self.checkpoint({"reason": reason})
        self.checkpoints.wait(self.state.step)

    def _train_epoch(self, outcome: RunOutcome,
                     on_step: Callable[[StepResult, TrainState], None] | None) -> bool:
        """The epoch's steps from its batch index on, until it ends or the run's last step:
        whether a command or a signal stopped them."""
        every = self.config.checkpoint.every_steps
        batches = loader(self.train_sources, self.featurizer, self.plan.epoch(self.state.epoch),
                         start=self.state.batch_index, cuda=self.device.type == "cuda")
        for batch in batches:
            if self.control.between_steps(self.state, self._save_now):
                return True
            result = self.train_step(batch)
            self.profiler.step()
            self.state.batch_index += 1
            if not result.skipped:
                outcome.history.append(result.loss["total"])
                self._step_event(result)
            if on_step:
                on_step(result, self.state)
            evaluated_next = self._has_eval and (self.state.batch_index >= self.batches_per_epoch
                                                 or self.state.step >= self.total_steps)
            if self.state.step % every == 0 and not result.skipped and not evaluated_next:
                # (at an epoch's end, and at the run's last step, the evaluated checkpoint
                # that `fit` writes next is this one: writing it twice doubles the wait)
                outcome.last_checkpoint = self.checkpoint({"loss": result.loss})
            if self.state.step >= self.total_steps:
                break
        return False

    def _end_of_epoch(self) -> Path | None:
        """Evaluate, fit the regret decision threshold, and checkpoint (marking `best`);
        without evaluation data, nothing."""
        metrics = self.evaluate()
        if metrics is None:
            return None
        self.state.regret_threshold = self.calibrate_regret()
        self._emit("eval", step=self.state.step, epoch=self.state.epoch, metrics=metrics,
                   regret_threshold=self.state.regret_threshold)
        best = self.state.best_loss is None or metrics["loss"] < self.state.best_loss
        if best:
            self.state.best_loss = metrics["loss"]
        return self.checkpoint({"eval": metrics}, is_best=best)

    def checkpoint(self, metrics: dict[str, Any], is_best: bool = False) -> Path | None:
        """Snapshot now and write in the background (`CheckpointWriter`)."""
        return self.checkpoints.save(self.model, self.optimizer, self.state,
                                     self._extra_modules(), metrics, is_best,
                                     keep=self.dist.is_main)

    def _save_now(self) -> Path | None:
        """The control channel's save-now: a checkpoint on disk before training goes on."""
        path = self.checkpoint({"reason": "save-now"})
        self.checkpoints.wait(self.state.step)
        return path

    def close(self) -> None:
        """Let a checkpoint being written finish, then stop the writer thread."""
        self.checkpoints.close(self.state.step)

    def _emit(self, type_: str, **fields: Any) -> None:
        if self.events is not None:
            self.events.emit(type_, **fields)

    def _step_event(self, result: StepResult) -> None:
        now = time.monotonic()
        # Every 100th and the last step always: `runs`, `diff` and the console read the
        # final loss from the newest step event.
        if now - self._last_step_event < 1.0 / MAX_STEP_EVENTS_PER_S and \
                self.state.step % 100 != 0 and self.state.step != self.total_steps:
            return
        self._last_step_event = now
        self._emit("step", step=self.state.step, epoch=self.state.epoch,
                   loss=result.loss, lr=result.lr, grad_norm=result.grad_norm,
                   grad_norm_by_module=result.module_grad_norms,
                   samples_per_s=result.samples / result.seconds,
                   tokens_per_s=result.tokens / result.seconds, mfu=result.mfu)


def _on_device(counts: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The counts moved in one copy: each copy from host memory waits for the device, and
    every task's loss of every micro-batch reads its count."""
    if not counts:
        return counts
    moved = torch.stack(list(counts.values())).to(device, non_blocking=True)
    return dict(zip(counts, moved, strict=True))


def _field_counts(batch: Batch) -> dict[str, torch.Tensor]:
    """Labelled rows per target field: the denominators of the whole batch's means."""
    return {field: present.sum() for field, present in batch.present.items()}
