"""NVML readings that never raise: the one module in the project that touches `pynvml`.

`pynvml` is imported inside functions so that importing this module cannot fail on a
machine without the package or the driver; the UI and the planner only ever see frozen
snapshots (`GpuReading`), as nvitop does. With no GPU the reading says so in `state`
and carries no devices: no zeros pretending to be a GPU.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

NO_GPU = "no NVIDIA GPU"
INIT_RETRY_S = 60.0


@dataclass(frozen=True)
class GpuSample:
    """One device at one instant. A field NVML could not read is None, not a guess."""

    index: int
    name: str
    used: int  # bytes
    total: int  # bytes
    util: int | None  # percent
    temp: int | None  # degrees C
    power_w: float | None  # watts
    process_used: int | None  # bytes used by this process on this device


@dataclass(frozen=True)
class GpuReading:
    """All devices at one instant; `state` is "ok" or a message starting with NO_GPU."""

    gpus: tuple[GpuSample, ...]
    state: str


def _try(call: Callable[[], T]) -> T | None:
    """A field that fails (not supported, permissions, lost GPU) must not hide the others."""
    try:
        return call()
    except Exception:  # NVMLError and anything else the binding throws
        return None


def _init_failure_message(err: BaseException, pynvml: Any) -> str:
    """Turn the init error into words a user can act on."""
    value = getattr(err, "value", None)
    if value is not None and value == getattr(pynvml, "NVML_ERROR_LIBRARY_NOT_FOUND", None):
        return f"{NO_GPU}: NVML driver library not found"
    if value is not None and value == getattr(pynvml, "NVML_ERROR_DRIVER_NOT_LOADED", None):
        return f"{NO_GPU}: NVIDIA driver not loaded"
    if value is not None and value == getattr(pynvml, "NVML_ERROR_NO_PERMISSION", None):
        return f"{NO_GPU}: no permission to use NVML"
    return f"{NO_GPU}: NVML init failed ({err})"


class Nvml:
    """Lazy, thread-safe NVML session.

    Init runs once on first use; a failure is remembered and only retried every
    `retry_s` seconds, because a missing driver does not appear between two samples and
    dlopen on every tick would be wasted work in a 1 Hz loop.
    """

    def __init__(self, retry_s: float = INIT_RETRY_S) -> None:
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._pynvml: Any = None
        self._failure: str | None = None
        self._failed_at: float | None = None

    def _ensure(self) -> Any:
        """The initialised `pynvml` module, or None with `self._failure` set."""
        with self._lock:
            if self._pynvml is not None:
                return self._pynvml
            now = time.monotonic()
            if self._failed_at is not None and now - self._failed_at < self._retry_s:
                return None
            try:
                import pynvml
            except ImportError:
                self._failure = f"{NO_GPU}: nvidia-ml-py (pynvml) is not installed"
                self._failed_at = now
                return None
            try:
                pynvml.nvmlInit()
            except Exception as err:
                self._failure = _init_failure_message(err, pynvml)
                self._failed_at = now
                return None
            self._pynvml, self._failure, self._failed_at = pynvml, None, None
            return pynvml

    def sample(self) -> GpuReading:
        """Read every device; never raises."""
        pynvml = self._ensure()
        if pynvml is None:
            return GpuReading((), self._failure or f"{NO_GPU}: NVML unavailable")
        try:
            count = int(pynvml.nvmlDeviceGetCount())
        except Exception as err:
            return GpuReading((), f"{NO_GPU}: NVML could not count devices ({err})")
        if count == 0:
            return GpuReading((), f"{NO_GPU}: NVML sees 0 devices")
        gpus = tuple(s for s in (self._sample_one(pynvml, i) for i in range(count)) if s)
        if not gpus:
            return GpuReading((), f"{NO_GPU}: NVML sees {count} device(s) but cannot read them")
        return GpuReading(gpus, "ok")

    def _sample_one(self, pynvml: Any, index: int) -> GpuSample | None:
        """A device whose handle or memory cannot be read is left out rather than zeroed."""
        handle = _try(lambda: pynvml.nvmlDeviceGetHandleByIndex(index))
        if handle is None:
            return None
        mem = _try(lambda: pynvml.nvmlDeviceGetMemoryInfo(handle))
        if mem is None:
            return None
        name = _try(lambda: pynvml.nvmlDeviceGetName(handle))
        if isinstance(name, bytes):
            name = name.decode(errors="replace")
        milliwatts = _try(lambda: pynvml.nvmlDeviceGetPowerUsage(handle))
        return GpuSample(
            index=index,
            name=name if name else f"GPU {index} (name unavailable)",
            used=int(mem.used),
            total=int(mem.total),
            util=_try(lambda: int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)),
            temp=_try(lambda: int(pynvml.nvmlDeviceGetTemperature(
                handle, pynvml.NVML_TEMPERATURE_GPU))),
            power_w=None if milliwatts is None else milliwatts / 1000.0,
            process_used=_try(lambda: _own_usage(pynvml, handle)),
        )

    def first_gpu_free_bytes(self) -> int | None:
        """Free memory of GPU 0: the planner's default budget when the profile sets none."""
        pynvml = self._ensure()
        if pynvml is None:
            return None
        return _try(lambda: int(pynvml.nvmlDeviceGetMemoryInfo(
            pynvml.nvmlDeviceGetHandleByIndex(0)).free))

    @property
    def state(self) -> str | None:
        """The remembered init failure, or None when NVML is up or not yet tried."""
        return self._failure

    def shutdown(self) -> None:
        """Release NVML; a later sample re-initialises. Never raises."""
        with self._lock:
            pynvml, self._pynvml = self._pynvml, None
        if pynvml is not None:
            _try(pynvml.nvmlShutdown)


def _own_usage(pynvml: Any, handle: Any) -> int | None:
    """This process's bytes on the device, or None when NVML cannot tell.

    Not finding our pid is reported as None, not 0: inside a container NVML lists host
    pids, so a process that does use the GPU would otherwise show as using nothing.
    """
    pid = os.getpid()
    for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
        if proc.pid == pid:
            used = proc.usedGpuMemory  # None on Windows WDDM
            return None if used is None else int(used)
    return None


_default: Nvml | None = None
_default_lock = threading.Lock()


def default_nvml() -> Nvml:
    """One process-wide session, so the planner and telemetry share one nvmlInit."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Nvml()
        return _default


def first_gpu_free_bytes() -> int | None:
    """Free bytes on GPU 0, None with no GPU (see `Nvml.first_gpu_free_bytes`)."""
    return default_nvml().first_gpu_free_bytes()
