"""MFU of each training step: its model FLOPs over its seconds and the device's peak.

The peak (`peak_flops.py`) is decided once when the trainer starts; the
FLOP model (`flops.py`) counts each kind of batch the first time a step of
that kind is measured. The forward passes of a step are seen by a hook on
the step module (one call per micro-batch, with the batch, whose kind and
padded lengths set its FLOPs), so the trainer's step itself is unchanged;
the hook only notes shapes, and all counting happens after the step's time
was taken. A step's passes are the newest ones that together hold its
rows: a skipped step's passes, older, are dropped with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from redheart.config import Config
from redheart.train.distributed import SINGLE, DistContext, rank_rows
from redheart.train.flops import Kind, StepFlops, batch_kind, step_flops
from redheart.train.peak_flops import TFLOPS, Peak, resolve_peak


def mfu(flops: float, seconds: float, peak_tflops: float, world: int = 1) -> float:
    """Model FLOPs utilisation of a step of `flops` (the whole job's) that took `seconds`
    on `world` devices of `peak_tflops` each."""
    return flops / seconds / (peak_tflops * TFLOPS * world)


class MfuMeter:
    """The MFU of each step of one trainer (rank 0's: the one that writes events)."""

    def __init__(self, peak: Peak, flops: StepFlops | None, dist: DistContext = SINGLE,
                 warn: Callable[[str], None] | None = None) -> None:
        self.peak = peak
        self.flops = flops
        """The FLOP model; None once counting failed (said once through `warn`)."""
        self.dist = dist
        self.warn = warn
        self._passes: list[tuple[int, Kind, int, int | None]] = []
        """(rows, kind, tokens, pair tokens) of each training forward pass since the last
        step was measured."""

    @classmethod
    def for_run(cls, config: Config, device: torch.device, dtype: str, dist: DistContext,
                modules: list[nn.Module], warn: Callable[[str], None]) -> MfuMeter:
        """The meter of a trainer's run: its peak, and where its FLOPs will be counted."""
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else None
        peak = resolve_peak(device.type, name, dtype, config.train.peak_tflops)
        params = sum(p.numel() for m in modules for p in m.parameters())
        return cls(peak, step_flops(config, dist.world, params), dist, warn)

    def watch(self, step_module: nn.Module) -> None:
        """Note the training forward passes of `step_module` (its first argument is the
        micro-batch); evaluation runs it without gradients and is not noted."""
        step_module.register_forward_pre_hook(self._forward)

    def _forward(self, _module: nn.Module, args: tuple[Any, ...]) -> None:
        if torch.is_grad_enabled() and args:
            batch = args[0]
            pair = batch.pair_inputs.shape[1] if batch.pair_inputs is not None else None
            self._passes.append((len(batch), batch_kind(batch), batch.inputs.shape[1], pair))

    def step_flops(self, rows: int) -> float | None:
        """This rank's FLOPs of the step of a `rows`-row global batch that just ended: its
        passes are the newest ones holding this rank's rows of it. None without a count."""
        mine = rank_rows(rows, self.dist)[0]
        left, passes = mine.stop - mine.start, []
        while left > 0 and self._passes:
            passes.append(self._passes.pop())
            left -= passes[-1][0]
        self._passes.clear()
        if left != 0 or self.flops is None:
            return None
        try:
            return sum(self.flops.forward(*p) for p in passes)
        except Exception as exc:    # a diagnostic must not stop a run: said once instead
            self.flops = None
            if self.warn is not None:
                self.warn(f"MFU is not reported: counting the step's FLOPs failed "
                          f"({type(exc).__name__}: {exc})")
            return None

    def step(self, seconds: float, rows: int) -> float | None:
        """MFU of the step of a `rows`-row global batch that just took `seconds`."""
        if self.peak.tflops is None or seconds <= 0:
            self._passes.clear()
            return None
        flops = self.step_flops(rows)
        if flops is None:
            return None
        # Each rank trains its share of the rows: this rank's FLOPs times the world are
        # the step's (shares differ by a row at most).
        world = self.dist.world
        return mfu(flops * world, seconds, self.peak.tflops, world)

    def start_fields(self) -> dict[str, Any]:
        """`run_started`'s fields: the peak and where it came from, or why there is none
        (said once more as a warning, by the caller)."""
        return {"peak_tflops": self.peak.tflops, "peak_source": self.peak.source,
                "mfu_unavailable": self.peak.problem,
                "flops_counted_on": self.flops.device if self.flops is not None else None}
