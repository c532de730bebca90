"""`redheart run`: profile -> data -> run directory -> Trainer.fit, with signals and lock."""

from __future__ import annotations

import dataclasses
import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from redheart.config import Config
from redheart.config_toml import dumps
from redheart.data.encoder import TextEncoder
from redheart.data.sources import anchor_paths
from redheart.data.training_data import training_data
from redheart.errors import RedHeartError, StartCancelled
from redheart.memory.selector import DoesNotFitError, plan_for
from redheart.memory.telemetry import TelemetrySampler
from redheart.runs.checkpoint_arg import checkpoint_folder, refuse_other_model
from redheart.runs.checkpoints import CheckpointError
from redheart.runs.config_change import check_resume_config
from redheart.runs.events import EventsWriteError, EventWriter
from redheart.runs.liveness import refuse_live_run
from redheart.runs.recovery import newer_damaged
from redheart.runs.resume import resume_point
from redheart.runs.run_dir import claim_run_dir, new_run_dir, run_dir_name, write_config
from redheart.runs.sinks import EventSinks
from redheart.train.distributed import (
    DistContext,
    PeerLost,
    init_distributed,
    peer_failure,
    shutdown,
    wait_for_main,
)
from redheart.train.init_from import anchor_init_from, load_initial_weights
from redheart.train.reporter import QuietReporter, Reporter
from redheart.train.trainer import (
    RunOutcome,
    Trainer,
    TrainingError,
    resolve_device,
)


def with_sample_cap(config: Config, samples: int | None) -> Config:
    """`--samples N`: read at most N rows of each source."""
    if not samples:
        return config
    sources = tuple(dataclasses.replace(s, limit=min(s.limit or samples, samples))
                    for s in config.data.sources)
    return dataclasses.replace(config, data=dataclasses.replace(config.data, sources=sources))


def latest_run(config: Config) -> Path:
    root = Path(config.run.runs_root)
    runs = sorted((p for p in root.glob(f"{config.run.name}-*") if (p / "checkpoints").is_dir()),
                  key=lambda p: p.stat().st_mtime)
    if not runs:
        raise CheckpointError(f"--resume: no run named '{config.run.name}' under {root}; pass "
                              f"--run-dir or a checkpoint path")
    return runs[-1]


@contextmanager
def stop_on_signals(trainer: Trainer):
    """First SIGINT/SIGTERM/SIGHUP: finish the step, checkpoint, exit 0. Second SIGINT:
    stop now.

    SIGHUP is what a run started in a plain SSH session gets when the connection
    drops or the terminal closes; its default ended the run on the spot, losing
    every step since the last checkpoint. Under nohup it is ignored, and stays so.
    """
    if threading.current_thread() is not threading.main_thread():
        yield          # the console's training thread: the console owns the signals
        return
    signals = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) == signal.SIG_DFL:   # not nohup's SIG_IGN
        signals.append(signal.SIGHUP)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def handle(signum, _frame):
        if trainer.control.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        trainer.control.stop_requested = signal.Signals(signum).name
        signal.signal(signal.SIGINT, handle)

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield
    except PeerLost:
        # torchrun's agent sends SIGTERM to the survivors of a lost rank: ignored from
        # here on (this process is ending), it cannot cut the error's report, the wait
        # for a checkpoint being written, or the lock's release.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        raise
    except BaseException:
        _restore(previous)
        raise
    _restore(previous)


def _restore(handlers: dict[signal.Signals, Any]) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def run_training(config: Config, profile_dir: Path, reporter: Reporter,
                 run_dir: Path | None = None, resume: str | None = None,
                 samples: int | None = None,
                 on_run_dir: Callable[[Path], None] | None = None,
                 profile_steps: int = 0,
                 cancelled: Callable[[], bool] | None = None) -> RunOutcome:
    """One run: alone, or as one rank of a torchrun job (see `distributed.py`).

    `on_run_dir` is for a caller that follows the run from its start (the
    console): rank 0 tells it the run directory as soon as the memory plan
    fits, before the data is read; the directory is created only once the
    data is read, so a run refused on its data leaves no folder.
    `profile_steps`: record that many steps with torch.profiler (`step_profiler.py`).
    `cancelled`: asked once the data is read, before the directory is created; True
    raises StartCancelled (the console's Stop during the data read: until the directory
    exists, its control channel cannot take a stop).
    """
    config = anchor_paths(with_sample_cap(config, samples), profile_dir)
    checkpoint, run_dir = resume_target(config, resume, run_dir)
    # A launch that starts at step 0 (no --resume, or `--resume last` with nothing to
    # resume yet: a restart loop's first launch) checks init_from before the data read.
    config = anchor_init_from(config, profile_dir, check=checkpoint is None)
    if run_dir is not None:
        refuse_live_run(run_dir)
    device = resolve_device(config)  # a missing GPU is reported before anything is written
    dist = init_distributed(config, device.type, lambda: model_parameters(config))
    lost = None
    try:
        if not dist.is_main:
            reporter = QuietReporter()   # rank 0 speaks for the job
        return _run(config, profile_dir, reporter, run_dir, resume, checkpoint, dist,
                    on_run_dir, profile_steps, cancelled)
    except PeerLost as exc:
        lost = exc
        raise
    except RuntimeError as exc:     # a collective outside the steps (start-up, resume)
        lost = peer_failure(exc, dist, None)
        if lost is None:
            raise
        raise lost from None
    finally:
        if lost is None:    # after a lost peer the group cannot agree to close: just end
            shutdown(dist)


def resume_target(config: Config, resume: str | None,
                  run_dir: Path | None) -> tuple[Path | None, Path | None]:
    """(checkpoint, run directory) that `--resume` continues, checked before any data work.

    `last`/`best` belong to --run-dir, else to the newest run of the
    profile's name; a path (step folder, pointer, run directory) continues
    its own run directory unless --run-dir names another. A checkpoint of
    another architecture is refused here, from its weights' header.
    """
    if resume is None:
        return None, run_dir
    checkpoint = None
    if resume not in ("last", "best"):
        checkpoint = checkpoint_folder(resume)
        run_dir = run_dir or checkpoint.parent.parent
    run_dir = run_dir or latest_run(config)
    checkpoint = checkpoint or resume_point(resume, run_dir)
    if checkpoint is not None:
        refuse_other_model(checkpoint, config.model)
    return checkpoint, run_dir


def model_parameters(config: Config) -> int:
    from redheart.memory.dry_run import meta_model

    return sum(p.numel() for p in meta_model(config.model).parameters())


def _run(config: Config, profile_dir: Path, reporter: Reporter, run_dir: Path | None,
         resume: str | None, checkpoint: Path | None, dist: DistContext,
         on_run_dir: Callable[[Path], None] | None, profile_steps: int,
         cancelled: Callable[[], bool] | None = None) -> RunOutcome:
    # Rank 0 plans and every rank follows: ranks that chose different savers or
    # micro-batches would run different collectives and hang.
    memory_plan = dist.from_main(plan_for(config, resolve_device(config).type,
                                          world=dist.world, strategy=dist.strategy)
                                 if dist.is_main else None)
    if memory_plan.fits is False:   # refused before any data is read or memory allocated
        raise DoesNotFitError(memory_plan.shortfall())
    config = memory_plan.config     # the savers the plan chose
    # Compared after planning: the savers it chose are what the checkpoint recorded.
    changed = check_resume_config(checkpoint, config) if checkpoint is not None else []
    if on_run_dir is not None and dist.is_main:
        # absolute, as the console has always tailed it and as its events name checkpoints
        run_dir = run_dir or run_dir_name(config).absolute()
        on_run_dir(run_dir)
    # One process fills the example store and the encoder cache; the others then read them.
    if dist.is_main:
        data = training_data(config, profile_dir, reporter.encoding)
    wait_for_main(dist)
    if not dist.is_main:
        data = training_data(config, profile_dir)
    encoder = None
    if config.data.encoder_trainable:   # it encodes token ids in the step: no budget of its own
        encoder = TextEncoder(config.data.encoder, config.data.max_tokens)

    if dist.is_main and cancelled is not None and cancelled():
        raise StartCancelled("the start was cancelled while its data was read; no run "
                             "folder was created")
    if dist.is_main:                # rank 0 owns the directory, the lock and the events
        run_dir = run_dir or new_run_dir(config)
        lock = claim_run_dir(run_dir, resuming=resume is not None)  # before anything is written
        events_path = run_dir / "events.jsonl"
        first_launch = not events_path.exists()
        events = (EventWriter.resume(events_path) if resume is not None
                  else EventWriter(events_path))
        # The reporter hears every event (evals, checkpoints, warnings) as it is written:
        # what `redheart run` prints of them comes from the file's own records. A reporter
        # written to the older four-method protocol has no `event`.
        if (listen := getattr(reporter, "event", None)) is not None:
            events.add_listener(listen)
    else:
        lock, events, first_launch = None, None, False
    sinks = None
    run_dir = Path(dist.from_main(str(run_dir)))
    checkpoint = dist.from_main(checkpoint)
    outcome = None
    trainer = None
    try:
        trainer = Trainer(config, data.train, data.dev, data.featurizer, events, run_dir,
                          encoder, dist, profile_steps)
        if checkpoint is not None:
            trainer.resume(checkpoint)
        elif config.train.init_from:
            load_initial_weights(trainer.model, config, trainer.state)
        if events is None:           # not rank 0: train, and leave the telling to rank 0
            with stop_on_signals(trainer):
                try:
                    outcome = trainer.fit()
                except RuntimeError as exc:
                    if (lost := peer_failure(exc, dist, trainer.state.step)) is None:
                        raise
                    raise lost from None
            return outcome
        # Only now, with the checkpoint accepted: a refused run changes no file.
        write_config(run_dir, config)
        events.emit("plan", **memory_plan.as_json())    # the first event of every launch
        sinks = EventSinks(events, config, run_dir)     # notifications, TensorBoard
        if lock.stale_pid:
            events.emit("warning", message=f"stale lock of pid {lock.stale_pid} cleared "
                        f"(that run ended without releasing it)")
        for change in changed:
            events.emit("warning", message=f"--resume: {change.describe()} since "
                        f"{checkpoint.name} ({'moved' if change.moved else 'accepted'})")
        passed_over = (newer_damaged(run_dir / "checkpoints", checkpoint)
                       if resume == "last" else [])
        for name in passed_over:
            events.emit("warning", message=(
                f"--resume last: {name} is damaged (no readable state.json or "
                f"model.safetensors) and was passed over; continuing from "
                f"{checkpoint.name if checkpoint else 'step 0'}"))
        if resume == "last" and checkpoint is None and not passed_over:
            events.emit("warning", message=(
                f"--resume last: {run_dir} holds no checkpoint yet; starting at step 0"
                if first_launch else "no checkpoint was written before the run "
                "stopped; starting again from step 0"))
        events.emit("run_started", config=dumps(config), device=str(trainer.device),
                    world_size=dist.world, strategy=dist.strategy,
                    modules=trainer.model.module_params(), total_steps=trainer.total_steps,
                    resumed_from=str(checkpoint) if checkpoint else None,
                    step=trainer.state.step, **trainer.mfu.start_fields())
        for skipped in data.skipped:
            events.emit("warning", message=skipped)
        if trainer.mfu.peak.problem:        # once per launch, not in every step
            events.emit("warning", message=trainer.mfu.peak.problem)
        reporter.started(run_dir, trainer)
        telemetry = TelemetrySampler(
            lambda fields: events.emit("memory", **fields), trainer.device,
            on_error=lambda message: events.emit("warning", message=f"telemetry: {message}"))
        with telemetry, stop_on_signals(trainer):
            try:
                outcome = trainer.fit(reporter.step)
            except TrainingError:
                raise
            except EventsWriteError:
                raise                       # the error event could not be written either
            except RedHeartError as exc:
                events.emit("error", message=str(exc), hint="")
                raise
            except RuntimeError as exc:
                if (lost := peer_failure(exc, dist, trainer.state.step)) is None:
                    raise
                events.emit("error", message=str(lost), step=trainer.state.step,
                            hint="a rank of the job died (preempted, killed, out of memory); "
                                 "run the same torchrun command with --resume last")
                raise lost from None
        events.emit("state", state="stopped" if outcome.reason == "stopped" else "finished",
                    step=trainer.state.step)
        events.emit("run_finished", summary={
            "reason": outcome.reason, "steps": trainer.state.step, "epoch": trainer.state.epoch,
            "best_loss": trainer.state.best_loss, "skipped_steps": trainer.state.skipped_total,
            "last_checkpoint": str(outcome.last_checkpoint) if outcome.last_checkpoint else None,
            "first_loss": outcome.history[0] if outcome.history else None,
            "final_loss": outcome.history[-1] if outcome.history else None,
            "profile_trace": str(outcome.profile_trace) if outcome.profile_trace else None})
        return outcome
    finally:
        if trainer is not None:
            trainer.close()
        if events is not None:
            if sinks is not None:
                sinks.close()
            events.close()
            lock.release()
        reporter.finished(run_dir, outcome)
