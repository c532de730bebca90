"""Live memory telemetry: the payload of the `memory` event and the thread that emits it.

torch is imported inside `torch_memory` so that importing this module (for example from
the CLI) stays as cheap as the profile check requires.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from redheart.memory.nvml import Nvml, default_nvml


def process_rss_bytes() -> int:
    """Current resident set size of this process in bytes.

    /proc/self/statm is the current value. Without /proc (macOS) the fallback is
    getrusage's ru_maxrss, which is the PEAK resident size, not the current one.
    """
    try:
        with open("/proc/self/statm") as f:
            resident_pages = int(f.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)  # darwin: bytes


def _is_cuda(device: Any) -> bool:
    """Decide without importing torch: a CPU run must not pay for it here."""
    kind = getattr(device, "type", None)
    return (kind if kind is not None else str(device)).startswith("cuda")


def torch_memory(device: Any) -> dict[str, int] | None:
    """The caching allocator's view for a CUDA device; None for CPU, which has none."""
    if not _is_cuda(device):
        return None
    import torch

    return {
        "allocated": int(torch.cuda.memory_allocated(device)),
        "reserved": int(torch.cuda.memory_reserved(device)),
        "peak": int(torch.cuda.max_memory_allocated(device)),
    }


def memory_event_fields(nvml: Nvml, device: Any) -> dict[str, Any]:
    """The `memory` event payload (architecture.md §4), JSON-ready."""
    reading = nvml.sample()
    return {
        "torch": torch_memory(device),
        "gpus": [
            {
                "index": g.index, "name": g.name, "used": g.used, "total": g.total,
                "util": g.util, "temp": g.temp, "power": g.power_w,
                "process_used": g.process_used,
            }
            for g in reading.gpus
        ],
        "rss": process_rss_bytes(),
        "gpu_state": reading.state,
    }


class TelemetrySampler:
    """Daemon thread that emits `memory_event_fields` at `hz`.

    It must never hurt training: every failure inside a tick (sampling or `emit`) is
    caught and counted, `on_error` hears about the first one only (a broken sink at
    1 Hz would otherwise flood the log), and the thread keeps going.
    """

    def __init__(
        self,
        emit: Callable[[dict[str, Any]], None],
        device: Any = "cpu",
        *,
        nvml: Nvml | None = None,
        hz: float = 1.0,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        if not 0 < hz <= 2:
            raise ValueError(f"telemetry hz must be in (0, 2], got {hz}")
        self._emit = emit
        self._device = device
        self._nvml = nvml if nvml is not None else default_nvml()
        self._interval = 1.0 / hz
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._latest: dict[str, Any] | None = None
        self.errors = 0
        self.samples = 0

    @property
    def latest(self) -> dict[str, Any] | None:
        """The last sampled fields, or None before the first sample."""
        return self._latest

    def start(self) -> TelemetrySampler:
        """Begin sampling; the first sample is taken at once. A stopped sampler stays stopped."""
        if self._thread is not None:
            if self._stop.is_set():
                raise RuntimeError("a stopped TelemetrySampler cannot be restarted")
            return self
        self._thread = threading.Thread(target=self._run, name="redheart-telemetry",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to finish and join it; safe to call more than once."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> TelemetrySampler:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        """Fixed-rate schedule, so a slow tick does not stretch the period."""
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._tick()
            next_at += self._interval
            now = time.monotonic()
            if next_at <= now:  # fell behind (a stalled NVML call): restart, don't burst
                next_at = now + self._interval
            if self._stop.wait(next_at - now):
                break

    def _tick(self) -> None:
        try:
            fields = memory_event_fields(self._nvml, self._device)
            self._latest = fields
            self.samples += 1
            self._emit(fields)
        except Exception as err:
            self.errors += 1
            if self.errors == 1 and self._on_error is not None:
                try:
                    self._on_error(f"memory telemetry failed ({type(err).__name__}: {err}); "
                               "further telemetry errors are counted, not reported")
                except Exception:
                    pass
