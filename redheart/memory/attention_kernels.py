"""Pick the attention kernel the target device would run, for the meta dry run.

`scaled_dot_product_attention` chooses a fused kernel by device, and the
kernels save very different things for backward: the math path keeps the
[B, H, T, T] probabilities, the fused ones only the output and a log-sum-exp
row. On `meta` the math path would be taken, so this mode calls the kernel
the real device picks for our (masked) attention: memory-efficient attention
on CUDA, the CPU flash kernel on CPU when there is no attention dropout
(with dropout the CPU falls back to the math path too).
"""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode


class AttentionKernelChoice(TorchFunctionMode):
    def __init__(self, device: str) -> None:
        super().__init__()
        self.device = device

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") != "scaled_dot_product_attention":
            return func(*args, **kwargs)
        q, k, v = args[:3]
        mask = kwargs.get("attn_mask")
        dropout = float(kwargs.get("dropout_p", 0.0))
        scale = kwargs.get("scale")     # transformers' encoders pass 1/sqrt(head_dim)
        if kwargs.get("is_causal"):
            return func(*args, **kwargs)
        bias = mask
        if mask is not None and mask.dtype == torch.bool:
            bias = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill(
                ~mask, float("-inf"))
        if self.device == "cuda":
            expanded = None if bias is None else bias.expand(
                q.shape[0], q.shape[1], q.shape[2], k.shape[2])
            return torch.ops.aten._scaled_dot_product_efficient_attention(
                q, k, v, expanded, True, dropout, False, scale=scale)[0]
        if dropout == 0.0:
            return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
                q, k, v, 0.0, False, attn_mask=bias, scale=scale)[0]
        return func(*args, **kwargs)
