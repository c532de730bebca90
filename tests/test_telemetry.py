"""Live memory telemetry: NVML never raises, real RSS, and a sampler that survives its sink."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
import types
from dataclasses import dataclass

import pytest

from redheart.memory.nvml import GpuReading, Nvml
from redheart.memory.telemetry import TelemetrySampler, memory_event_fields, process_rss_bytes

GIB = 1024**3


def _nvml_driver_present() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


def _vmrss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


# --- (1) the real machine --------------------------------------------------------------


def test_real_nvml_reports_its_state_without_raising():
    nvml = Nvml()
    reading = nvml.sample()
    assert isinstance(reading, GpuReading)
    if _nvml_driver_present():
        assert reading.state == "ok", reading.state
        assert reading.gpus and all(g.total > 0 and 0 <= g.used <= g.total for g in reading.gpus)
        assert nvml.first_gpu_free_bytes() is not None
    else:
        assert reading.gpus == ()
        assert reading.state.startswith("no NVIDIA GPU"), reading.state
        assert nvml.first_gpu_free_bytes() is None
    nvml.shutdown()


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_memory_event_fields_on_cpu_has_real_rss_and_no_torch():
    fields = memory_event_fields(Nvml(), "cpu")
    assert set(fields) == {"torch", "gpus", "rss", "gpu_state"}
    assert fields["torch"] is None
    vmrss = _vmrss_bytes()
    assert fields["rss"] > 0
    assert abs(fields["rss"] - vmrss) <= 0.2 * vmrss, (fields["rss"], vmrss)
    assert abs(process_rss_bytes() - vmrss) <= 0.2 * vmrss
    if not _nvml_driver_present():
        assert fields["gpus"] == []
        assert fields["gpu_state"].startswith("no NVIDIA GPU")


def test_init_failure_is_remembered_not_retried_every_sample(monkeypatch):
    fake = types.ModuleType("pynvml")
    calls = []

    class NVMLError(Exception):
        def __init__(self, value):
            self.value = value

    def nvml_init():
        calls.append(1)
        raise NVMLError(12)

    fake.NVMLError = NVMLError
    fake.NVML_ERROR_LIBRARY_NOT_FOUND = 12
    fake.nvmlInit = nvml_init
    monkeypatch.setitem(sys.modules, "pynvml", fake)

    nvml = Nvml(retry_s=60.0)
    states = {nvml.sample().state for _ in range(5)}
    assert states == {"no NVIDIA GPU: NVML driver library not found"}
    assert len(calls) == 1
    assert nvml.first_gpu_free_bytes() is None and len(calls) == 1

    retrying = Nvml(retry_s=0.0)
    retrying.sample()
    retrying.sample()
    assert len(calls) == 3


# --- (2) a fake pynvml: exact values through, a failing field becomes None -------------


@dataclass
class _Mem:
    used: int
    total: int
    free: int


@dataclass
class _Util:
    gpu: int
    memory: int


@dataclass
class _Proc:
    pid: int
    usedGpuMemory: int | None  # pynvml spells it this way


def _fake_pynvml(count: int = 2, failing: frozenset[str] = frozenset()) -> types.ModuleType:
    """Two GPUs with distinct numbers; any function named in `failing` raises NVMLError."""
    m = types.ModuleType("pynvml")

    class NVMLError(Exception):
        def __init__(self, value):
            self.value = value

    m.NVMLError = NVMLError
    m.NVML_TEMPERATURE_GPU = 0
    m.NVML_ERROR_LIBRARY_NOT_FOUND = 12
    m.shutdowns = 0
    me = os.getpid()

    def guard(name, fn):
        def wrapped(*args):
            if name in failing:
                raise NVMLError(3)  # NVML_ERROR_NOT_SUPPORTED
            return fn(*args)
        return wrapped

    def get_temperature(h, sensor):
        assert sensor == m.NVML_TEMPERATURE_GPU
        return 61 + h

    def shutdown():
        m.shutdowns += 1

    fns = {
        "nvmlInit": lambda: None,
        "nvmlDeviceGetCount": lambda: count,
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": lambda h: f"NVIDIA Fake {h}",
        "nvmlDeviceGetMemoryInfo": lambda h: _Mem(used=(3 + h) * GIB, total=24 * GIB,
                                                  free=(21 - h) * GIB),
        "nvmlDeviceGetUtilizationRates": lambda h: _Util(gpu=40 + h, memory=7),
        "nvmlDeviceGetTemperature": get_temperature,
        "nvmlDeviceGetPowerUsage": lambda h: 215_500 + h * 1000,  # milliwatts
        "nvmlDeviceGetComputeRunningProcesses": lambda h: (
            [_Proc(pid=me + 1, usedGpuMemory=5 * GIB), _Proc(pid=me, usedGpuMemory=(2 + h) * GIB)]
            if h == 0 else [_Proc(pid=me + 1, usedGpuMemory=GIB)]),
        "nvmlShutdown": shutdown,
    }
    for name, fn in fns.items():
        setattr(m, name, guard(name, fn))
    return m


def test_fake_nvml_values_come_through_exactly(monkeypatch):
    fake = _fake_pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    nvml = Nvml()
    reading = nvml.sample()
    assert reading.state == "ok"
    g0, g1 = reading.gpus
    assert (g0.index, g0.name, g0.used, g0.total) == (0, "NVIDIA Fake 0", 3 * GIB, 24 * GIB)
    assert (g0.util, g0.temp, g0.power_w, g0.process_used) == (40, 61, 215.5, 2 * GIB)
    assert (g1.index, g1.name, g1.used, g1.util, g1.temp, g1.power_w) == (
        1, "NVIDIA Fake 1", 4 * GIB, 41, 62, 216.5)
    assert g1.process_used is None  # our pid is not among its processes: NVML cannot tell
    assert nvml.first_gpu_free_bytes() == 21 * GIB

    fields = memory_event_fields(nvml, "cpu")
    assert fields["gpu_state"] == "ok"
    assert fields["gpus"][0] == {"index": 0, "name": "NVIDIA Fake 0", "used": 3 * GIB,
                                 "total": 24 * GIB, "util": 40, "temp": 61, "power": 215.5,
                                 "process_used": 2 * GIB}
    nvml.shutdown()
    nvml.shutdown()
    assert fake.shutdowns == 1


@pytest.mark.parametrize("failing, field", [
    ("nvmlDeviceGetUtilizationRates", "util"),
    ("nvmlDeviceGetTemperature", "temp"),
    ("nvmlDeviceGetPowerUsage", "power_w"),
    ("nvmlDeviceGetComputeRunningProcesses", "process_used"),
])
def test_a_failing_field_becomes_none_and_the_others_survive(monkeypatch, failing, field):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(failing=frozenset({failing})))
    reading = Nvml().sample()
    assert reading.state == "ok"
    g0 = reading.gpus[0]
    assert getattr(g0, field) is None
    expected = {"util": 40, "temp": 61, "power_w": 215.5, "process_used": 2 * GIB}
    del expected[field]
    assert {k: getattr(g0, k) for k in expected} == expected
    assert (g0.name, g0.used, g0.total) == ("NVIDIA Fake 0", 3 * GIB, 24 * GIB)


def test_zero_devices_and_unreadable_memory_are_states_not_zeros(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(count=0))
    reading = Nvml().sample()
    assert reading == GpuReading((), "no NVIDIA GPU: NVML sees 0 devices")

    monkeypatch.setitem(sys.modules, "pynvml",
                        _fake_pynvml(failing=frozenset({"nvmlDeviceGetMemoryInfo"})))
    nvml = Nvml()
    reading = nvml.sample()
    assert reading.gpus == () and reading.state.startswith("no NVIDIA GPU")
    assert nvml.first_gpu_free_bytes() is None


# --- (3) the sampler thread -------------------------------------------------------------


def test_sampler_rate_and_prompt_stop():
    emitted: list[dict] = []
    sampler = TelemetrySampler(emitted.append, "cpu", nvml=Nvml(), hz=2.0)
    with sampler:
        time.sleep(1.2)
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 1.0
    assert 2 <= len(emitted) <= 4, len(emitted)
    assert sampler.latest is emitted[-1]
    assert all(e["rss"] > 0 and e["torch"] is None for e in emitted)
    n = len(emitted)
    time.sleep(0.6)
    assert len(emitted) == n  # really stopped
    sampler.stop()  # idempotent


def test_sampler_survives_a_raising_emit_and_reports_once():
    calls = 0
    errors: list[str] = []
    fourth = threading.Event()

    def emit(fields: dict) -> None:
        nonlocal calls
        calls += 1
        if calls >= 4:
            fourth.set()
        raise OSError("disk full")

    sampler = TelemetrySampler(emit, "cpu", nvml=Nvml(), hz=2.0, on_error=errors.append)
    sampler.start()
    try:
        assert fourth.wait(5.0), f"sampler stopped after {calls} emits"
    finally:
        t0 = time.monotonic()
        sampler.stop()
        assert time.monotonic() - t0 < 1.0
    assert sampler.errors >= 4
    assert len(errors) == 1 and "disk full" in errors[0]
    assert sampler.latest is not None


@pytest.mark.parametrize("hz", [0, -1, 2.5])
def test_sampler_rejects_bad_rate(hz):
    with pytest.raises(ValueError, match="hz"):
        TelemetrySampler(lambda f: None, hz=hz)
