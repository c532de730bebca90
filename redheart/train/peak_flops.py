"""The device's dense peak FLOP/s in the run's dtype: the denominator of MFU.

GPUs: a table of NVIDIA's published dense figures (no 2:4 sparsity, which
the datasheets show with an asterisk at twice the rate), matched on
`torch.cuda.get_device_name()`. bf16/fp16 are tensor-core rates with FP32
accumulate, what PyTorch's matmuls use; on GeForce cards that is half the
FP16-accumulate rate the marketing quotes. fp32 is the non-tensor-core
FP32 rate (PyTorch leaves TF32 off for matmuls by default). Sources:

- data center: the NVIDIA H100/H200, A100, L40S, L40, L4, A10, V100 and T4
  datasheets, and the H100 whitepaper for its dense rates;
- RTX A6000: its datasheet (309.7 TFLOPS tensor with sparsity, so 154.8 dense);
- GeForce RTX 3090/3080: the NVIDIA Ampere GA102 whitepaper, appendix
  ("Peak FP16/BF16 Tensor TFLOPS with FP32 Accumulate");
- GeForce RTX 4090/4080: the NVIDIA Ada GPU architecture whitepaper, appendix.

Left out, because the figures could not be confirmed: H100 NVL and H200 NVL
(two datasheet editions differ), the RTX 5090 (the FP32-accumulate rate of
its GeForce tensor cores), GH200 and everything newer. Such a GPU, a variant
whose name does not match (a laptop part, a "Ti" or "SUPER"), or a dtype a
card lacks (bf16 on V100 and T4) gives no peak: `[train] peak_tflops` sets
one, and without it MFU is null and the run says so once.

On CPU there is no datasheet: the peak is a square GEMM in the run's dtype
timed at the start, the best of a few tries within well under a second.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache

import torch

TFLOPS = 1e12


@dataclass(frozen=True)
class GpuPeak:
    name: str
    pattern: str
    """Regex on the upper-cased device name, '-' and '_' read as spaces."""
    bf16: float | None
    fp16: float | None
    fp32: float


GPUS = (
    GpuPeak("NVIDIA H200 SXM", r"\bH200\b(?!.*\bNVL\b)", 989.4, 989.4, 66.9),
    GpuPeak("NVIDIA H100 SXM", r"\bH100\b(?!.*\bNVL\b).*\b(SXM\w*|HBM3)\b", 989.4, 989.4, 66.9),
    GpuPeak("NVIDIA H100 PCIe", r"\bH100\b.*\bPCIE\b", 756.0, 756.0, 51.2),
    GpuPeak("NVIDIA A100", r"\bA100\b", 312.0, 312.0, 19.5),
    GpuPeak("NVIDIA L40S", r"\bL40S\b", 362.05, 362.05, 91.6),
    GpuPeak("NVIDIA L40", r"\bL40\b", 181.05, 181.05, 90.5),
    GpuPeak("NVIDIA L4", r"\bL4\b", 121.0, 121.0, 30.3),
    GpuPeak("NVIDIA A10", r"\bA10\b", 125.0, 125.0, 31.2),
    GpuPeak("NVIDIA RTX A6000", r"\bRTX A6000\b", 154.8, 154.8, 38.7),
    GpuPeak("NVIDIA V100S PCIe", r"\bV100S\b", None, 130.0, 16.4),
    GpuPeak("NVIDIA V100 SXM2", r"\bV100\b.*\bSXM2?\b", None, 125.0, 15.7),
    GpuPeak("NVIDIA V100 PCIe", r"\bV100\b.*\bPCIE\b", None, 112.0, 14.0),
    GpuPeak("NVIDIA T4", r"\bT4\b", None, 65.0, 8.1),
    GpuPeak("NVIDIA GeForce RTX 3090", r"\bRTX 3090$", 71.0, 71.0, 35.6),
    GpuPeak("NVIDIA GeForce RTX 3080", r"\bRTX 3080$", 59.5, 59.5, 29.8),
    GpuPeak("NVIDIA GeForce RTX 4090", r"\bRTX 4090$", 165.2, 165.2, 82.6),
    GpuPeak("NVIDIA GeForce RTX 4080", r"\bRTX 4080$", 97.5, 97.5, 48.7),
)
"""Dense TFLOP/s per dtype; the first match wins (H200 before its NVL, L40S before L40)."""


def gpu_peak(device_name: str) -> GpuPeak | None:
    """The table's row for a `torch.cuda.get_device_name()` string, or None."""
    name = re.sub(r"[-_]", " ", device_name.upper()).strip()
    return next((row for row in GPUS if re.search(row.pattern, name)), None)


@dataclass(frozen=True)
class Peak:
    """The peak an MFU is divided by, and where it came from (for `run_started`)."""

    tflops: float | None
    source: str | None
    """"table: NVIDIA H200 SXM", "[train] peak_tflops", "measured fp32 GEMM on cpu ..."."""
    problem: str | None = None
    """Why there is no peak (then MFU is null), said once as a warning."""


def resolve_peak(device_type: str, device_name: str | None, dtype: str, override: float,
                 measure=None) -> Peak:
    """Decide the peak of a run on `device_type` ("cuda", "cpu") in `dtype`.

    `[train] peak_tflops` (`override` > 0) wins; a GPU looks up the table; a
    CPU times a GEMM (`measure`, for tests; `cpu_gemm_tflops` by default).
    """
    if override > 0:
        return Peak(override, "[train] peak_tflops")
    if device_type == "cuda":
        row = gpu_peak(device_name or "")
        value = getattr(row, dtype, None) if row is not None else None
        if value is not None:
            return Peak(value, f"table: {row.name} ({dtype}, dense)")
        what = (f"the {row.name} has no {dtype} tensor cores in the table" if row is not None
                else f"the GPU '{device_name}' is not in the peak table")
        return Peak(None, None, f"MFU is not reported: {what}; set [train] peak_tflops to its "
                                f"dense {dtype} TFLOP/s (from its datasheet) to get it")
    if device_type == "cpu":
        tflops, how = (measure or cpu_gemm_tflops)(dtype)
        return Peak(tflops, f"measured {dtype} GEMM on cpu ({how})")
    return Peak(None, None, f"MFU is not reported on {device_type}: no peak is known; set "
                            f"[train] peak_tflops to get it")


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_gemm_tflops(dtype: str) -> tuple[float, str]:
    """(TFLOP/s, how it was measured) of a GEMM in `dtype` with this process's torch
    threads; measured once per process and thread count (it is the machine's, not the
    run's)."""
    return _gemm(dtype, torch.get_num_threads())


@lru_cache(maxsize=8)
def _gemm(dtype: str, threads: int, size: int = 1024, budget_s: float = 0.1) -> tuple[float, str]:
    """Best rate of a size x size matmul: one warm-up, then tries until `budget_s` has
    passed (at least three, at most 20). Every CPU run pays this at its start, so it is
    kept to about a tenth of a second; at 1024 one thread came within 10% of a 2048 GEMM
    on the 2-core machine this was written on (`bench/model_step.py` picks the fastest
    of larger sizes, for its own ratio)."""
    a = torch.linspace(-1, 1, size * size, dtype=DTYPES[dtype]).view(size, size)
    b = a.T.contiguous()
    a @ b                                   # warm-up: thread pool, packing buffers
    best, tries, start = 0.0, 0, time.perf_counter()
    while tries < 20 and (tries < 3 or time.perf_counter() - start < budget_s):
        began = time.perf_counter()
        a @ b
        best = max(best, 2 * size**3 / (time.perf_counter() - began))
        tries += 1
    return best / TFLOPS, (f"{size}x{size}, best of {tries}, {threads} thread"
                           f"{'s' if threads > 1 else ''}")
