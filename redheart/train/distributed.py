"""Multi-process training under torchrun: the process group, the wrappers, the collectives.

One process per GPU (or per CPU slot on gloo, for tests). Every rank loads
the same global batch (the batch plan is a pure function of seed and
epoch) and trains on its own slice of rows; DDP averages gradients for a
model that fits one GPU, FSDP2 shards parameters, gradients and optimizer
state for one that does not. Only rank 0 writes events and checkpoints;
decisions that must agree (stop, pause, save-now, non-finite steps) are
taken from values every rank shares.
"""

from __future__ import annotations

import gc
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from redheart.config import Config
from redheart.errors import RedHeartError

FSDP_MIN_PARAMS = 600_000_000
"""`strategy = "auto"` shards a model above this size: a 1.32B model's fp32 weights,
gradients and AdamW state (21 GB) fit no single common GPU; the 330M model's 5 GB do."""


FSDP_FORWARD_METHODS = {"utilities": ("fuse", "combine")}
"""Methods other than forward that use a unit's parameters: FSDP2 must gather for them too."""


STARTUP_TIMEOUT = timedelta(hours=6)
"""How long the other ranks wait while rank 0 reads and encodes the data before training:
a first encoding of a large corpus takes long, and only then do the steps' collectives
(bounded by `[distributed] timeout_s`) begin."""


class DistributedError(RedHeartError):
    """torchrun's environment or the profile do not allow this distributed run."""


class PeerLost(RedHeartError):
    """Another rank of the job died or cannot be reached: this rank stops too (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the job; `SINGLE` outside torchrun."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    strategy: str = "none"
    """"none", "ddp" or "fsdp2"."""
    backend: str = ""
    peers: tuple[tuple[str, int], ...] = ()
    """(host, pid) of every rank, by rank: how a survivor names the rank it lost."""
    startup_group: Any = field(default=None, compare=False, repr=False)
    """A gloo group with a long timeout, for the wait while rank 0 prepares the data."""

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes events, checkpoints and the lock."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def sharded(self) -> bool:
        return self.strategy == "fsdp2"

    @property
    def comm_device(self) -> torch.device:
        """Where small tensors for collectives live: the GPU for nccl, host memory for gloo."""
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else \
            torch.device("cpu")

    def sum_tensors(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each value summed over ranks, on the device, unread (float64, so summing shares
        adds no rounding); in name order, which every rank shares."""
        names = sorted(values)
        tensor = torch.stack([values[n] for n in names]).to(self.comm_device, torch.float64)
        if self.active:
            dist.all_reduce(tensor)
        return dict(zip(names, tensor, strict=True))

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on any (a signal reaching one rank stops all)."""
        if not self.active:
            return flag
        tensor = torch.tensor([1.0 if flag else 0.0], device=self.comm_device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item() > 0)

    def from_main(self, value: Any) -> Any:
        """Rank 0's value on every rank (control commands, for identical decisions)."""
        if not self.active:
            return value
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]


SINGLE = DistContext()


def strategy_for(config: Config, params: int) -> str:
    """DDP while one GPU holds the model, FSDP2 beyond (or as the profile says)."""
    chosen = config.distributed.strategy
    if chosen == "auto":
        return "fsdp2" if params > FSDP_MIN_PARAMS else "ddp"
    return chosen


def init_distributed(config: Config, device_type: str,
                     params: Callable[[], int]) -> DistContext:
    """Join torchrun's process group; a no-op context when WORLD_SIZE is 1 or unset.

    `params` counts the model (a meta build) only when a strategy must be chosen.
    """
    env = os.environ
    world = int(env.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    missing = [k for k in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if k not in env]
    if missing:
        raise DistributedError(f"WORLD_SIZE={world} but {', '.join(missing)} not set; start "
                               f"multi-process runs with torchrun --nproc_per_node N -m "
                               f"redheart run PROFILE")
    backend = config.distributed.backend
    if backend == "auto":
        backend = "nccl" if device_type == "cuda" else "gloo"
    if backend == "nccl" and device_type != "cuda":
        raise DistributedError(f"{config.source}: [distributed] backend = \"nccl\" needs CUDA "
                               f"devices; use backend = \"gloo\" on CPU")
    local_rank = int(env["LOCAL_RANK"])
    if device_type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise DistributedError(f"LOCAL_RANK {local_rank} but only "
                                   f"{torch.cuda.device_count()} GPUs are visible; lower "
                                   f"--nproc_per_node")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(
            backend, timeout=timedelta(seconds=config.distributed.timeout_s))
    startup = dist.new_group(backend="gloo", timeout=STARTUP_TIMEOUT)
    peers: list[Any] = [None] * world
    dist.all_gather_object(peers, (socket.gethostname(), os.getpid()), group=startup)
    return DistContext(int(env["RANK"]), world, local_rank, strategy_for(config, params()),
                       backend, tuple(tuple(p) for p in peers), startup)


def wait_for_main(ctx: DistContext) -> None:
    """The other ranks wait here while rank 0 fills the example store and the encoder cache
    (for up to STARTUP_TIMEOUT, not the steps' short timeout)."""
    if ctx.active:
        dist.barrier(group=ctx.startup_group)


def lost_ranks(ctx: DistContext, wait_s: float = 2.0) -> list[int]:
    """Ranks on this host whose process has ended (or is a zombie its launcher has not yet
    reaped). A connection error can reach a survivor just before its peer's exit completes,
    so this looks again for up to `wait_s`."""
    host = socket.gethostname()
    deadline = time.monotonic() + wait_s
    while True:
        lost = [rank for rank, (peer_host, pid) in enumerate(ctx.peers)
                if rank != ctx.rank and peer_host == host and not _alive(pid)]
        if lost or time.monotonic() >= deadline:
            return lost
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def peer_failure(exc: BaseException, ctx: DistContext, step: int | None) -> PeerLost | None:
    """The one-line error for a collective that failed because another rank is gone; None
    when `exc` is something else (it is then raised as it is).

    gloo fails a collective at once when a peer's connection closes; nccl,
    and a peer on another host that vanished without closing its connection,
    fail when `[distributed] timeout_s` runs out. `step` is None while the
    job starts (the data read, the run directory, the resume): a peer that
    ends then has most often refused bad input with its own one-line error,
    so this line points there instead of at `--resume last`, which cannot
    mend a bad row or profile and has no checkpoint of this launch to use.
    """
    if not ctx.active or not isinstance(exc, RuntimeError):
        return None
    lost = lost_ranks(ctx)
    if lost:
        names = ", ".join(f"rank {r} (pid {ctx.peers[r][1]} on {ctx.peers[r][0]})"
                          for r in lost)
        if step is None:
            whose = "its" if len(lost) == 1 else "their"
            return PeerLost(f"{names} ended while the job was starting, so rank {ctx.rank} "
                            f"stops too; {whose} own error above (or torchrun's report of "
                            f"how it ended) says why")
        verb = "was" if len(lost) == 1 else "were"
        return PeerLost(f"{names} {verb} lost at step {step}, so rank {ctx.rank} stops too; "
                        f"the job continues from its newest checkpoint with --resume last")
    if not _is_collective_error(exc):
        return None
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if step is None:
        return PeerLost(f"rank {ctx.rank} lost contact with the other ranks while the job was "
                        f"starting ({reason[:200]}); their errors above (or torchrun's report) "
                        f"say why")
    return PeerLost(f"rank {ctx.rank} lost contact with the other ranks at step {step} "
                    f"({reason[:200]}); the job continues from its newest checkpoint with "
                    f"--resume last")


def _is_collective_error(exc: BaseException) -> bool:
    """A failed or timed-out collective (torch's DistError family, or gloo's and nccl's
    own RuntimeErrors, which name their transport)."""
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc)
    return any(mark in text for mark in ("gloo", "NCCL", "Connection reset", "Connection "
                                         "closed", "Broken pipe", "Timed out", "timed out"))


def shutdown(ctx: DistContext) -> None:
    """Free the finished run's DDP/FSDP wrappers, then destroy the process groups.

    The trainer sits in a reference cycle, so without a collection here its
    wrapper (and through it the gloo or NCCL group it holds) outlives
    `destroy_process_group` and is destroyed whenever the collector next
    runs, at worst while the interpreter is being torn down.
    """
    if ctx.active and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def rank_rows(rows: int, ctx: DistContext) -> tuple[slice, float]:
    """This rank's rows of a global batch and their share of it.

    Slices differ in size by at most one row. A batch with fewer rows than
    ranks (the short last batch of a small source) is run whole by every
    rank at share 1/world, so no rank idles at a collective.
    """
    if not ctx.active:
        return slice(0, rows), 1.0
    if rows < ctx.world:
        return slice(0, rows), 1.0 / ctx.world
    base, extra = divmod(rows, ctx.world)
    begin = ctx.rank * base + min(ctx.rank, extra)
    size = base + (1 if ctx.rank < extra else 0)
    return slice(begin, begin + size), size / rows


def micro_batches(rows: int, wanted: int, ctx: DistContext) -> int:
    """Micro-batches per rank: the same count on every rank, never an empty one.

    Every rank must run as many forwards as the others (FSDP2 gathers, the
    MoE counts are summed across ranks), so the count is bounded by the
    smallest rank slice.
    """
    if ctx.active and rows >= ctx.world:
        smallest = rows // ctx.world
    else:
        smallest = rows
    return max(1, min(wanted, smallest))


class StepModule(nn.Module):
    """What a training step differentiates: the model and, when trained, the encoder.

    Its forward is a whole FORWARD + COMPUTE, returning the losses: DDP then
    sees one forward per micro-batch (a dilemma batch runs the model twice
    inside it) that uses every parameter the loss depends on, and the
    encoder's gradients are averaged with the model's.
    """

    def __init__(self, model: nn.Module, encoder: nn.Module | None,
                 forward_fn: Callable[..., dict[str, Any]]) -> None:
        super().__init__()
        self.model = model
        self.encoder = encoder
        self._forward_fn = forward_fn

    def forward(self, batch: Any, *args: Any) -> dict[str, Any]:
        return self._forward_fn(self.model, batch, *args)


def wrap_for_training(step: StepModule, ctx: DistContext) -> nn.Module:
    """DDP around the step module, or FSDP2 shards of each top-level part and layer."""
    if ctx.strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [ctx.local_rank] if ctx.backend == "nccl" else None
        # A batch trains only the heads of its source's tasks: the other
        # parameters get no gradient, so DDP must look for unused ones.
        return DistributedDataParallel(step, device_ids=device_ids,
                                       find_unused_parameters=True,
                                       gradient_as_bucket_view=True, forward_sync_buffers=False)
    if ctx.strategy == "fsdp2":
        from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

        for unit in fsdp_units(step.model):
            fully_shard(unit)
        for name, methods in FSDP_FORWARD_METHODS.items():
            unit = getattr(step.model, name, None)
            for method in methods if unit is not None else ():
                register_fsdp_forward_method(unit, method)
        if step.encoder is not None:
            fully_shard(step.encoder)
        fully_shard(step)
        return step
    return step


def fsdp_units(model: nn.Module) -> list[nn.Module]:
    """Sharding units, innermost first: transformer layers, analyzer blocks, then parts.

    One unit is gathered at a time, so the largest unit bounds the
    transient memory; the per-rank forecast uses the same list.
    """
    units: list[nn.Module] = []
    backbone = getattr(model, "backbone", None)
    if backbone is not None:
        units += list(backbone.transformer.layers)
    for name, child in model.named_children():
        blocks = getattr(child, "blocks", None)
        if isinstance(blocks, nn.ModuleList):
            units += list(blocks)
        if name != "backbone":
            units.append(child)
    if backbone is not None:
        units.append(backbone.input_projection)
        for per_task in (backbone.task_attention, backbone.task_projections,
                         backbone.task_specialization):
            units += list(per_task.values())   # a ModuleDict has no forward to hook
    return units


def fsdp_unit_sizes(model: nn.Module) -> list[int]:
    """Parameters each unit gathers itself, the root's leftovers last.

    A unit's `parameters()` include those of the units nested in it (an
    analyzer and its blocks), but those are sharded on their own and gathered
    when their own forward runs; counting them twice would forecast gathers
    several times too large.
    """
    seen: set[int] = set()
    sizes = []
    for unit in [*fsdp_units(model), model]:
        own = [p for p in unit.parameters() if id(p) not in seen]
        seen.update(id(p) for p in own)
        sizes.append(sum(p.numel() for p in own))
    return sizes


def sync_gradients(wrapped: nn.Module, ctx: DistContext, last: bool):
    """DDP/FSDP2: all-reduce only on the last micro-batch of a step."""
    from contextlib import nullcontext

    if ctx.strategy == "ddp" and not last:
        return wrapped.no_sync()
    if ctx.strategy == "fsdp2":
        wrapped.set_requires_gradient_sync(last)
    return nullcontext()


def local_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """A DTensor's shard on this rank (FSDP2), or the tensor itself."""
    to_local = getattr(tensor, "to_local", None)
    return to_local() if to_local is not None else tensor


def count_sync(ctx: DistContext) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Sum of expert counts over ranks, for the MoE balance loss (None when alone)."""
    if not ctx.active:
        return None

    def summed(counts: torch.Tensor) -> torch.Tensor:
        counts = counts.detach().clone()
        dist.all_reduce(counts)
        return counts

    return summed
