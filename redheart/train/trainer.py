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

import numpy as np
import torch

from redheart.config import Config, validate
from redheart.data.batching import Batch, BatchPlan, Featurizer, loader, source_lengths
from redheart.data.encoder import TextEncoder
from redheart.data.sources import SourceData
from redheart.errors import RedHeartError
from redheart.model.catalog import ExecutionMode
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
from redheart.step_shape import step_shape
from redheart.train.control import ControlReader
from redheart.train.distributed import (
    SINGLE,
    DistContext,
    DistributedError,
    StepModule,
    count_sync,
    local_tensor,
    micro_batches,
    rank_rows,
    sync_gradients,
    wrap_for_training,
)
from redheart.train.losses import (
    BatchShare,
    LossSettings,
    class_weights,
    regret_side_weights,
)
from redheart.train.optimizers import build_optimizer
from redheart.train.regret_decision import best_threshold, calibration_sources
from redheart.train.schedule import learning_rate
from redheart.train.stages import combine_losses, compute_stage, forward_stage
from redheart.train.trained_rows import add_rows, task_rows

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
                 encoder: TextEncoder | None = None, dist: DistContext = SINGLE) -> None:
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
        self.step_module = self._wrap(encoder)
        """The model as a step runs it: plain, under DDP, or FSDP2-sharded."""
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
        self._calibration = calibration_sources(train_sources, config.run.seed)
        """Training rows the regret decision threshold is fitted on at each evaluation."""
        self.losses = LossSettings(
            class_weights(train_examples), config.train.focal_gamma,
            regret_side_weights(train_examples, config.train.regret_balance))
        self.plan = BatchPlan(source_lengths(train_sources, featurizer),
                              [s.source.weight for s in train_sources],
                              config.train.batch_size, config.run.seed)
        per_epoch = self.plan.batches_per_epoch()
        self.total_steps = config.train.max_steps or config.train.epochs * per_epoch
        self.shape = step_shape(config, dist.world)
        """This rank's rows and forward passes per optimizer step of a full batch."""
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
        self._pending_folder = Path()
        """The step folder the pending write makes, named by a failure."""

    # ------------------------------------------------------------------ set-up

    def _wrap(self, encoder: TextEncoder | None) -> torch.nn.Module:
        step = StepModule(self.model, encoder.model if encoder is not None else None,
                          self._step_losses)
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
        self.state, meta = load_checkpoint(checkpoint, self.model, self.optimizer,
                                           self._extra_modules(), ranks)
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
        self._mode(training=True)
        rows = len(batch)
        mine, share = rank_rows(rows, self.dist)
        local = batch if mine == slice(0, rows) else _rows(batch, mine)
        chunks = _split(local, micro_batches(rows, self.shape.accumulation_steps, self.dist))
        sliced = len(chunks) > 1 or self.dist.active
        # A batch smaller than the job runs whole on every rank: its labels count once per rank.
        replicas = round(len(local) / (share * rows))
        counts = {f: n * replicas for f, n in _field_counts(batch).items()} if sliced else {}
        totals: dict[str, float] = {}
        for index, chunk in enumerate(chunks):
            weight = share * len(chunk) / len(local)
            with sync_gradients(self.step_module, self.dist, last=index == len(chunks) - 1):
                result = self.step_module(chunk, counts if sliced else None, weight)
                losses, total = result["losses"], result["total"]
                # DDP and FSDP2 average gradients over ranks; the shares already sum to 1.
                (total * (weight * self.dist.world)).backward()
            for name, value in {**losses, "total": total}.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach()) * weight
        if self.dist.active:
            names = sorted(totals)
            totals = dict(zip(names, self.dist.sum([totals[n] for n in names]),
                              strict=True))
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
        return forward_stage(self.model, batch.to(self.device, non_blocking=True), self._states)

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
            # clip_grads_with_norm_'s arithmetic on plain shards: FSDP2's DTensors and the
            # already all-reduced total norm do not mix in one foreach call.
            coefficient = self.config.train.grad_clip / (grad_norm + 1e-6)
            if coefficient < 1.0:
                torch._foreach_mul_(grads, coefficient)
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
        no gradient is read twice. A parameter whose gradient is exactly zero
        (no loss of this batch reached it: a head whose labels the batch
        lacks) gets no gradient at all, so AdamW leaves it and its moments
        alone, as it does for a parameter outside the graph. That also keeps
        FSDP2 (which hands zero gradients to the unused parameters of a unit)
        stepping exactly like one process.
        """
        params, owners, grads = [], [], []
        for owner, param in self._owned_params:
            if param.grad is not None:
                params.append(param)
                owners.append(owner)
                grads.append(local_tensor(param.grad))
        if not grads:
            return {}, [], torch.zeros(())
        squares = torch.stack(torch._foreach_norm(grads)).float() ** 2
        if self.dist.sharded:   # each rank holds a shard of every gradient
            torch.distributed.all_reduce(squares)
        zero = (squares == 0).tolist()
        if any(zero):
            for param, untouched in zip(params, zero, strict=True):
                if untouched:
                    param.grad = None
            kept = [i for i, untouched in enumerate(zero) if not untouched]
            owners, grads = [owners[i] for i in kept], [grads[i] for i in kept]
            squares = squares[kept]
        per_module = torch.zeros(len(self._module_names), device=squares.device)
        per_module.index_add_(0, torch.tensor(owners, dtype=torch.long, device=squares.device),
                              squares)
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
                stopped = (f"{message}: {self.state.skipped} consecutive steps skipped "
                           f"(max_skips = {self.config.train.max_skips}); last good "
                           f"checkpoint: {last or 'none'}")
                self._emit("error", message=stopped, module=bad[0] if bad else None,
                           step=self.state.step, last_checkpoint=last, cause="nonfinite",
                           hint="lower train.lr, or raise train.max_skips")
                raise TrainingError(stopped)
            return StepResult(totals, float("nan"), norms, lr, rows, tokens, skipped=True,
                              seconds=time.perf_counter() - start)
        hint = (f"resume from {last} with a lower lr, or set train.on_nonfinite = \"skip\""
                if last else "lower train.lr, or set train.on_nonfinite = \"skip\"")
        self._emit("error", message=message, module=bad[0] if bad else None,
                   step=self.state.step, last_checkpoint=last, hint=hint, cause="nonfinite")
        raise TrainingError(f"{message}; last good checkpoint: {last or 'none'}; {hint}")

    # -------------------------------------------------------------- evaluation

    @torch.no_grad()
    def evaluate(self) -> dict[str, float] | None:
        """Each task's mean loss over its own labelled evaluation rows, and their sum.

        A batch's task loss is already a mean over the batch's rows that carry
        that task's target, so it is weighted by that count (dilemma pairs by
        their number, as "pairs", apart from the anecdotes' hedonic loss).
        `loss`, which picks `best`, is the plain sum of these means: every task
        counts the same, however many rows it has.
        """
        if not any(s.examples or s.pairs for s in self.eval_sources):
            return None
        self._mode(training=False)
        sums: dict[str, float] = {}
        rows: dict[str, int] = {}
        plan = BatchPlan(source_lengths(self.eval_sources, self.featurizer),
                         [1.0] * len(self.eval_sources), self.config.train.batch_size, 0)
        for batch in loader(self.eval_sources, self.featurizer, plan.every_row_once()):
            # the step module: under FSDP2 it gathers the shards (every rank evaluates)
            losses = self.step_module(batch, None, 1.0)["losses"]
            for task, count in task_rows(batch).items():
                if task in losses or (task == "pairs" and "bentham" in losses):
                    value = losses["bentham" if task == "pairs" else task]
                    sums[task] = sums.get(task, 0.0) + float(value) * count
                    rows[task] = rows.get(task, 0) + count
        metrics = {task: total / rows[task] for task, total in sums.items() if rows[task]}
        metrics["loss"] = sum(metrics.values())
        return metrics

    @torch.no_grad()
    def calibrate_regret(self) -> float | None:
        """The WRONG threshold on predicted regret that maximises F1 on training rows."""
        if not self._calibration:
            return None
        self._mode(training=False)
        predicted: list[float] = []
        truth: list[float] = []
        plan = BatchPlan(source_lengths(self._calibration, self.featurizer),
                         [1.0] * len(self._calibration), self.config.train.batch_size, 0)
        for batch in loader(self._calibration, self.featurizer, plan.every_row_once()):
            regret = self.step_module(batch, None, 1.0, True)["regret"]
            rows = batch.present["regret"]
            predicted += regret[rows.to(regret.device)].float().tolist()
            truth += batch.targets["regret"][rows].tolist()
        return best_threshold(np.asarray(predicted), np.asarray(truth) > 0.5)

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
        root = self.run_dir / "checkpoints"
        # FSDP2 gathers the shards here, a collective every rank joins; rank 0 writes.
        snap = snapshot(self.model, self.optimizer, self.state, self._extra_modules(),
                        keep=self.dist.is_main)
        if snap is None:
            return root / checkpoint_name(self.state.step)

        def write() -> None:
            path = write_checkpoint(root, snap, self.config, metrics, is_best,
                                    self.config.checkpoint.keep_last)
            self._emit("checkpoint", path=str(path), step=snap.state.step, best=is_best)

        self._pending_write = self._writer.submit(write)
        self._pending_folder = root / checkpoint_name(snap.state.step)
        return self._pending_folder

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
            folder = self._pending_folder
            # Failing after the rename (the `last` pointer, pruning) leaves this step whole,
            # and `--resume last` picks the newest whole folder even without its pointer.
            kept = (f"{folder.name} was written whole" if folder.is_dir()
                    else "earlier checkpoints are intact")
            with suppress(EventsWriteError):  # the same full disk may refuse the event
                self._emit("error", message=f"checkpoint write failed: {exc}",
                           step=self.state.step,
                           hint="free disk space or fix the run directory's permissions")
            raise TrainingError(f"checkpoint write of {folder.name} failed: {exc}; {kept}; "
                                f"free disk space, then continue with --resume last") from None

    def _apply_control(self) -> bool:
        """Commands and signals between steps: whether to stop now. In a distributed run
        every rank applies rank 0's commands, and a signal seen by any rank stops them
        all at the same step."""
        if self.control is None and not self.dist.active:
            return bool(self.stop_requested)
        while True:
            commands = self.control.poll() if self.control is not None else []
            for command in self.dist.from_main(commands):
                self._command(command)
            stop = self._agree_on_stop()
            if not self.paused or stop:
                return stop
            time.sleep(0.2)

    def _agree_on_stop(self) -> bool:
        """Whether to stop, the same on every rank.

        A signal lands on one rank at any moment, even in an epoch's last step;
        a rank that stopped there while the others went on to evaluate would
        leave them waiting in collectives it never joins.
        """
        if not self.dist.active:
            return bool(self.stop_requested)
        # The agreed value, not a re-read: a signal arriving after the all-reduce is
        # this rank's alone until the next agreement.
        agreed = self.dist.any(bool(self.stop_requested))
        if agreed:
            self.stop_requested = self.stop_requested or "peer"
        return agreed

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
            stopping = False
            for batch in batches:
                if stopping := self._apply_control():
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
            if stopping or self._agree_on_stop():
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


def _field_counts(batch: Batch) -> dict[str, torch.Tensor]:
    """Labelled rows per target field: the denominators of the whole batch's means."""
    return {field: present.sum() for field, present in batch.present.items()}


def _rows(batch: Batch, sl: slice) -> Batch:
    """The rows `sl` of every tensor of a batch."""

    def cut(x):
        return None if x is None else x[sl]

    return Batch(batch.inputs[sl], batch.mask[sl],
                 {k: v[sl] for k, v in batch.targets.items()},
                 {k: v[sl] for k, v in batch.present.items()},
                 cut(batch.pair_inputs), cut(batch.pair_mask), cut(batch.less_ethical),
                 batch.source)


def _split(batch: Batch, parts: int) -> list[Batch]:
    """`parts` micro-batches for gradient accumulation, sizes differing by at most one row."""
    if parts <= 1 or len(batch) < parts:
        return [batch]
    base, extra = divmod(len(batch), parts)
    chunks, begin = [], 0
    for index in range(parts):
        size = base + (1 if index < extra else 0)
        chunks.append(_rows(batch, slice(begin, begin + size)))
        begin += size
    return chunks
