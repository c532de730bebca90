"""Checkpoints: `checkpoints/step-NNNNNNNN/` written atomically (architecture.md §3).

Each holds `model.safetensors`, `optimizer.pt` (tensors and plain numbers
only, read back with `torch.load(weights_only=True)`, which refuses pickled
code), `rng.safetensors` and `state.json` (step, epoch, data position, config
hash, metrics, modules). A folder is written under a temporary name, fsynced
and renamed, so a crash leaves either a whole checkpoint or none; `last` and
`best` are pointer files replaced atomically; `order` in state.json ranks the
folders by when they were written (see `recovery`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from redheart.atomic_file import write_text_atomically
from redheart.config import Config
from redheart.config_toml import dumps
from redheart.errors import RedHeartError
from redheart.runs.full_state import (
    RankZeroReads,
    full_state,
    load_model_state,
    load_optimizer_state,
)
from redheart.runs.recovery import (
    REPLACED_PREFIX,
    TMP_PREFIX,
    checkpoint_name,
    complete_folders,
    newest_complete,
    next_order,
    remove_folder,
)

SCHEMA = 1


class CheckpointError(RedHeartError):
    """A checkpoint cannot be loaded into this run; the message says why and what to do."""


def config_hash(config: Config) -> str:
    return hashlib.blake2b(dumps(config).encode(), digest_size=8).hexdigest()


@dataclass
class TrainState:
    """Where training stands: enough to continue exactly."""

    step: int = 0
    epoch: int = 0
    batch_index: int = 0
    """Position in the epoch's batch plan (the data position)."""
    best_loss: float | None = None
    skipped: int = 0
    skipped_total: int = 0
    """Steps skipped for non-finite values over the whole run (`skipped` counts in a row)."""
    lr_scale: float = 1.0
    """Set by the control channel's set-lr: the schedule is multiplied by it."""
    trained_rows: dict[str, int] | None = field(default_factory=dict)
    """Labelled rows per target that trained the model, over the run (train/trained_rows.py);
    None for a checkpoint written before they were counted."""
    regret_threshold: float | None = None
    """Predicted regret above which the author is judged in the wrong, fitted on training
    rows at the last evaluation (train/regret_decision.py); None before the first."""
    data: list[dict[str, Any]] | None = None
    """Rows per source and split with a digest of their texts (train/data_digest.py): what
    `batch_index` points into; None for a checkpoint written before they were recorded."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_pointer(root: Path, name: str, target: str) -> None:
    write_text_atomically(root / name, target + "\n", durable=True)


@dataclass
class Snapshot:
    """Everything a checkpoint holds, copied to CPU memory off the live training state.

    Copying takes milliseconds; writing and fsyncing can then happen in a
    background thread while training goes on, without racing the next step.
    """

    model: dict[str, torch.Tensor]
    extra: dict[str, dict[str, torch.Tensor]]
    optimizer: dict[str, Any] | None
    """None for weights-only checkpoints (`redheart grow`): no optimizer.pt is written."""
    rng: torch.Tensor
    state: TrainState
    modules: list[str]


def snapshot(model: torch.nn.Module, optimizer: Any, state: TrainState,
             extra: dict[str, torch.nn.Module] | None = None,
             keep: bool = True) -> Snapshot | None:
    """Full CPU copies of the training state (gathered from shards in an FSDP2 run).

    In a distributed run every rank calls this (gathering is collective) and
    only the writing rank `keep`s the copy; the others get None.
    """
    model_state = full_state(model, keep)
    extra_states = {name: full_state(m, keep) for name, m in (extra or {}).items()}
    optimizer_state = full_state(optimizer, keep)
    if not keep:
        return None
    return Snapshot(model=model_state, extra=extra_states, optimizer=optimizer_state,
                    rng=torch.get_rng_state().clone(),
                    state=dataclasses.replace(state, trained_rows=_copy(state.trained_rows)),
                    modules=list(getattr(model, "enabled", ())))


def _copy(rows: dict[str, int] | None) -> dict[str, int] | None:
    """The counts as they are now: training goes on adding to them while the write runs."""
    return None if rows is None else dict(rows)


def _tmp_folder(root: Path, step: int) -> Path:
    return root / f"{TMP_PREFIX}{checkpoint_name(step)}-{os.getpid()}"


def write_checkpoint(root: Path, snap: Snapshot, config: Config, metrics: dict[str, Any],
                     is_best: bool, keep_last: int) -> Path:
    """Write step-NNNNNNNN atomically, move the pointers, prune old periodic folders.

    A failed write (a full disk) removes its temporary folder, so it frees
    the space it took and leaves the earlier checkpoints as they were.
    """
    try:
        return _write_checkpoint(root, snap, config, metrics, is_best, keep_last)
    except BaseException as exc:
        shutil.rmtree(_tmp_folder(root, snap.state.step), ignore_errors=True)
        cause = _os_error(exc)
        if cause is not None and cause is not exc:
            raise cause from None
        raise


def _os_error(exc: BaseException | None) -> OSError | None:
    """The OSError (a full disk, a lost mount) behind a write failure, if there is one.

    torch.save re-raises it as a RuntimeError from its zip writer, and
    safetensors as its own error type; the trainer handles OSError.
    """
    while exc is not None:
        if isinstance(exc, OSError):
            return exc
        if isinstance(exc, SafetensorError) and (code := re.search(r"os error (\d+)",
                                                                   str(exc))):
            return OSError(int(code[1]), os.strerror(int(code[1])))
        exc = exc.__cause__ or exc.__context__
    return None


def _write_checkpoint(root: Path, snap: Snapshot, config: Config, metrics: dict[str, Any],
                      is_best: bool, keep_last: int) -> Path:
    name = checkpoint_name(snap.state.step)
    final = root / name
    tmp = _tmp_folder(root, snap.state.step)
    shutil.rmtree(tmp, ignore_errors=True)
    root.mkdir(exist_ok=True)   # not parents: a deleted run directory is an error, never
    tmp.mkdir()                 # recreated
    save_file(snap.model, str(tmp / "model.safetensors"))
    for module_name, tensors in snap.extra.items():  # e.g. a fine-tuned encoder
        save_file(tensors, str(tmp / f"{module_name}.safetensors"))
    if snap.optimizer is not None:   # None: a weights-only checkpoint (`redheart grow`)
        with (tmp / "optimizer.pt").open("wb") as f:  # a file object: a full disk is an OSError
            torch.save(snap.optimizer, f)
    save_file({"torch_cpu": snap.rng}, str(tmp / "rng.safetensors"))
    state = snap.state
    meta = {"schema": SCHEMA, "step": state.step, "epoch": state.epoch,
            "batch_index": state.batch_index, "best_loss": state.best_loss,
            "skipped": state.skipped, "skipped_total": state.skipped_total,
            "lr_scale": state.lr_scale, "trained_rows": state.trained_rows,
            "regret_threshold": state.regret_threshold, "data": state.data,
            "config_hash": config_hash(config), "metrics": metrics, "modules": snap.modules,
            "order": next_order(root), "best": is_best,
            "parameters": {k: list(v.shape) for k, v in snap.model.items()}}
    (tmp / "state.json").write_text(json.dumps(meta, indent=1))
    (tmp / "config.toml").write_text(dumps(config))
    for file in tmp.iterdir():
        with file.open("rb") as f:
            os.fsync(f.fileno())
    _fsync_dir(tmp)
    _rename_into_place(root, tmp, final)
    _write_pointer(root, "last", name)
    if is_best:
        _write_pointer(root, "best", name)
    _prune(root, keep_last)
    return final


def _rename_into_place(root: Path, tmp: Path, final: Path) -> None:
    """Rename the finished `tmp` to `final`; a `final` already there (a resumed run writes
    its step again) is set aside whole first and deleted only once the new one is in place.

    Deleting it first left a window in which a kill lost both: the old one half deleted,
    the new one still `.tmp-*` (removed at the next lock), and `best`/`last` naming
    nothing. A kill between the two renames now leaves the old one set aside, which the
    next lock puts back (`recovery.remove_partial_checkpoints`).
    """
    aside = root / f"{REPLACED_PREFIX}{final.name}-{os.getpid()}" if final.exists() else None
    if aside is not None:
        os.rename(final, aside)
    try:
        os.rename(tmp, final)
    except BaseException:
        if aside is not None and not final.exists():
            os.rename(aside, final)
        raise
    _fsync_dir(root)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def save_checkpoint(root: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    state: TrainState, config: Config, metrics: dict[str, Any],
                    is_best: bool, keep_last: int,
                    extra: dict[str, torch.nn.Module] | None = None) -> Path:
    """Snapshot and write in one go (the synchronous form)."""
    return write_checkpoint(root, snapshot(model, optimizer, state, extra), config, metrics,
                            is_best, keep_last)


def _prune(root: Path, keep_last: int) -> None:
    """Keep the `keep_last` folders written last (and whatever `last` and `best` name).

    By write order, not step: after `--resume` from an earlier checkpoint, the abandoned
    launch's higher-numbered folders were kept as the newest while the run's own new
    checkpoints were pruned. Folders from before `order` was recorded sort first, by step.
    """
    pinned = {pointer_target(root, p) for p in ("last", "best")}
    written = complete_folders(root)

    def age(folder: Path) -> tuple[int, str]:
        order = written.get(folder.name, {}).get("order")
        return (order if isinstance(order, int) else -1, folder.name)

    folders = sorted((p for p in root.glob("step-*") if p.is_dir()), key=age)
    for old in folders[:-keep_last]:
        if old.name not in pinned:
            remove_folder(old)


def pointer_target(root: Path, name: str) -> str | None:
    path = root / name
    return path.read_text().strip() if path.is_file() else None


def resolve_checkpoint(spec: str, run_dir: Path) -> Path:
    """`last`, `best` (of the run directory) or a checkpoint as users type it.

    A path goes through `checkpoint_arg.checkpoint_folder` (step folder,
    pointer or run directory, checked whole). `last` and `best` keep the
    run directory's spelling of the path (resume events record it as is).
    """
    # checkpoint_arg builds on this module, so it is imported here, not at the top.
    from redheart.runs.checkpoint_arg import checkpoint_folder, whole_checkpoint

    if spec not in ("last", "best"):
        return checkpoint_folder(spec)
    target = pointer_target(run_dir / "checkpoints", spec)
    if spec == "last":        # the newest complete folder, even if a kill beat the pointer
        target = newest_complete(run_dir / "checkpoints", target)
    if target is None:
        raise CheckpointError(f"{run_dir}: no '{spec}' checkpoint yet; start without "
                              f"--resume or name a checkpoint folder")
    whole_checkpoint(run_dir / "checkpoints" / target)  # a pruned or damaged best: refused now
    return run_dir / "checkpoints" / target


def shapes_of(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    """Shapes only: what an architecture check compares (a meta model has no values)."""
    return {key: tuple(tensor.shape) for key, tensor in state.items()}


def refuse_other_architecture(path: Path, expected: dict[str, tuple[int, ...]],
                              found: dict[str, tuple[int, ...]]) -> None:
    """Name the top-level modules whose parameters are missing, extra or reshaped.

    Module names, not tensor keys: a user fixes the profile's modules and
    widths, and a list of 200 keys would hide which ones.
    """
    differing = sorted({key.split(".")[0] for key in set(expected) ^ set(found)} |
                       {key.split(".")[0] for key in set(expected) & set(found)
                        if expected[key] != found[key]})
    if differing:
        raise CheckpointError(f"{path}: another architecture; modules that differ: "
                              f"{', '.join(differing)}; load it with its own profile "
                              f"({path}/config.toml)")


def saved_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from model.safetensors' header, without reading the weights."""
    try:
        with safe_open(str(path / "model.safetensors"), framework="pt") as weights:
            return {key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()}
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{path}/model.safetensors: damaged ({exc}); use an earlier "
                              f"checkpoint") from None


def _load_failure(exc: Exception) -> str:
    """The part of torch.load's refusal that says what was found.

    torch's weights-only refusal opens with a paragraph that suggests
    retrying with weights_only=False and ends by suggesting to allowlist the
    global, the two things never to do with a file that carries code; only
    its unpickler's finding is kept.
    """
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        found = text.split("WeightsUnpickler error:", 1)[1].strip().splitlines()[0]
        found = found.split(". ")[0]        # not its advice on allowlisting the global
        return f"pickled Python objects, not only tensors: {found}"
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _read_weights(path: Path, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    try:
        tensors = load_file(str(path / "model.safetensors"))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{path}/model.safetensors: damaged ({exc}); use an earlier "
                              f"checkpoint") from None
    refuse_other_architecture(path, shapes_of(model.state_dict()), shapes_of(tensors))
    return tensors


def _read_optimizer(path: Path) -> dict[str, Any]:
    try:  # weights_only: tensors and plain data only; a pickled object is refused, not run
        with warnings.catch_warnings():  # a foreign file's protocol warning: not one line
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path / "optimizer.pt", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(f"{path}/optimizer.pt: refused ({_load_failure(exc)}); it "
                              f"holds more than tensors and numbers, or is damaged; use "
                              f"another checkpoint") from None


def load_checkpoint(path: Path, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None,
                    extra: dict[str, torch.nn.Module] | None = None,
                    ranks: RankZeroReads | None = None) -> tuple[TrainState, dict]:
    """Restore model (and optimizer, RNG); refuse another architecture, naming the modules.

    `ranks` (a sharded torchrun job): rank 0 alone reads the weights and the
    optimizer state, and every tensor reaches the other ranks' shards from it,
    instead of each rank holding a whole copy in host memory.
    """
    try:
        meta = json.loads((path / "state.json").read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}/state.json: unreadable ({exc}); pick another "
                              f"checkpoint") from None
    if meta.get("schema", 0) > SCHEMA:
        raise CheckpointError(f"{path}: written by a newer Red Heart (checkpoint schema "
                              f"{meta['schema']} > {SCHEMA}); upgrade to load it")
    if optimizer is not None and not (path / "optimizer.pt").is_file():
        raise CheckpointError(f"{path}: holds model weights only (no optimizer state), so it "
                              f"cannot be resumed; start a run from it with [train] init_from")
    tensors, optimizer_state, refusal = None, None, None
    if ranks is None or ranks.is_main:
        try:
            tensors = _read_weights(path, model)
            optimizer_state = _read_optimizer(path) if optimizer is not None else None
        except CheckpointError as exc:
            refusal = exc
    if ranks is not None:      # the others must not wait for tensors that will not come
        message = ranks.from_main(str(refusal) if refusal else None)
        refusal = CheckpointError(message) if message else None
    if refusal is not None:
        raise refusal
    load_model_state(model, tensors, from_rank0=ranks is not None)
    for name, module in (extra or {}).items():
        file = path / f"{name}.safetensors"
        if not file.is_file():
            raise CheckpointError(f"{path}: has no {name}.safetensors; it was not trained with "
                                  f"this {name}, so it cannot be resumed with it")
        load_model_state(module, load_file(str(file)))
    if optimizer is not None:
        load_optimizer_state(optimizer, optimizer_state, ranks)
        torch.set_rng_state(load_file(str(path / "rng.safetensors"))["torch_cpu"])
    state = TrainState(step=meta["step"], epoch=meta["epoch"], batch_index=meta["batch_index"],
                       best_loss=meta.get("best_loss"), skipped=meta.get("skipped", 0),
                       skipped_total=meta.get("skipped_total", 0),
                       lr_scale=meta.get("lr_scale", 1.0),
                       trained_rows=meta.get("trained_rows"),
                       regret_threshold=meta.get("regret_threshold"), data=meta.get("data"))
    return state, meta
