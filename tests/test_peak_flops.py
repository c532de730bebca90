"""The dense peak MFU divides by: NVIDIA's table matched on device names, the override, a
CPU GEMM, and an unknown GPU's one reason."""

from __future__ import annotations

from redheart.train.peak_flops import Peak, gpu_peak, resolve_peak


def test_the_peak_table_matches_device_names():
    assert gpu_peak("NVIDIA H200").name == "NVIDIA H200 SXM"
    assert gpu_peak("NVIDIA H100 80GB HBM3").bf16 == 989.4
    assert gpu_peak("NVIDIA H100 PCIe").name == "NVIDIA H100 PCIe"
    assert gpu_peak("NVIDIA A100-SXM4-80GB").bf16 == 312.0
    assert gpu_peak("NVIDIA L40S").bf16 == 362.05 and gpu_peak("NVIDIA L40").bf16 == 181.05
    assert gpu_peak("NVIDIA L4").fp32 == 30.3 and gpu_peak("NVIDIA A10").bf16 == 125.0
    assert gpu_peak("Tesla V100-SXM2-32GB").bf16 is None
    assert gpu_peak("NVIDIA GeForce RTX 4090").bf16 == 165.2     # FP32 accumulate
    for unknown in ("NVIDIA H100 NVL", "NVIDIA A10G", "NVIDIA GeForce RTX 4090 Laptop GPU",
                    "NVIDIA GeForce RTX 3080 Ti", "Radeon RX 7900"):
        assert gpu_peak(unknown) is None, unknown


def test_the_peak_comes_from_the_override_the_table_or_a_cpu_gemm():
    assert resolve_peak("cuda", "NVIDIA H200", "bf16", 0.0) == Peak(
        989.4, "table: NVIDIA H200 SXM (bf16, dense)")
    assert resolve_peak("cuda", "NVIDIA H200", "fp32", 0.0).tflops == 66.9
    assert resolve_peak("cuda", "Mystery GPU", "bf16", 123.0) == Peak(
        123.0, "[train] peak_tflops")
    on_cpu = resolve_peak("cpu", None, "fp32", 0.0, measure=lambda dtype: (0.2, "a GEMM"))
    assert on_cpu == Peak(0.2, "measured fp32 GEMM on cpu (a GEMM)")


def test_an_unknown_gpu_has_no_peak_and_a_reason_that_names_it():
    unknown = resolve_peak("cuda", "NVIDIA Mystery 9000", "bf16", 0.0)
    assert unknown.tflops is None
    assert "'NVIDIA Mystery 9000'" in unknown.problem
    assert "[train] peak_tflops" in unknown.problem
    no_bf16 = resolve_peak("cuda", "Tesla T4", "bf16", 0.0)
    assert no_bf16.tflops is None and "NVIDIA T4 has no bf16" in no_bf16.problem
