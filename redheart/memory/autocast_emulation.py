"""CUDA bf16 autocast, replayed on `meta` tensors.

The memory forecast runs the model on the meta device, where no autocast
applies, yet under CUDA autocast half the saved activations are bf16 and the
weights get bf16 copies. This function mode re-applies CUDA autocast's op
policies at the torch-function level, where autograd sees the casts exactly
as it does under the real autocast: lower-precision ops get bf16 inputs
(parameters cast once and cached, as autocast caches leaf casts), float32
ops get float32 inputs, and everything else keeps torch's own type
promotion. The lists cover what the Red Heart model calls; `bench/memory_gpu.py`
checks the result against the real CUDA autocast.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

LOWER_PRECISION = frozenset({
    "linear", "matmul", "__matmul__", "einsum", "mm", "bmm", "addmm", "baddbmm", "addbmm",
    "conv1d", "conv2d", "conv3d", "scaled_dot_product_attention", "prelu",
})
"""CUDA autocast's lower-precision list (the ops the model uses)."""

FLOAT32_WITH_DTYPE = frozenset({"softmax", "log_softmax", "sum", "cumsum", "prod", "cumprod"})
"""fp32_set_opt_dtype ops: computed in float32 via their dtype argument, no input copy."""

FLOAT32 = frozenset({
    "layer_norm", "group_norm", "softplus", "exp", "log", "log1p", "log2", "log10", "expm1",
    "pow", "rsqrt", "reciprocal", "norm", "mse_loss", "huber_loss", "smooth_l1_loss",
    "l1_loss", "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div",
    "logsumexp", "cosine_similarity", "fft_rfft", "fft_fft", "fft_irfft", "linalg_solve",
    "dist", "cdist", "renorm",
})
"""CUDA autocast's float32 list (the ops the model uses)."""

COMPOSITE = frozenset({"multi_head_attention_forward"})
"""Python-level functions whose inner calls must pass through the mode too."""


class CudaAutocastEmulation(TorchFunctionMode):
    """Apply CUDA autocast's policies (bf16 by default) to tensors on any device."""

    def __init__(self, dtype: torch.dtype = torch.bfloat16) -> None:
        super().__init__()
        self.dtype = dtype
        self.weight_casts: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        """id(parameter) -> (parameter, its cached cast): what autocast's cache holds."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in COMPOSITE:
            with self:
                return func(*args, **kwargs)
        if name in LOWER_PRECISION:
            args, kwargs = tree_map(self._to_lower, (args, kwargs))
        elif name in FLOAT32_WITH_DTYPE:
            first = args[0] if args else None
            if _is_lower(first, self.dtype) and kwargs.get("dtype") is None:
                kwargs = {**kwargs, "dtype": torch.float32}
        elif name in FLOAT32:
            args, kwargs = tree_map(_to_float32, (args, kwargs))
        return func(*args, **kwargs)

    def _to_lower(self, value: Any) -> Any:
        if not isinstance(value, torch.Tensor) or value.dtype != torch.float32:
            return value
        if value.is_leaf and value.requires_grad:
            cached = self.weight_casts.get(id(value))
            if cached is None:
                cached = (value, value.to(self.dtype))
                self.weight_casts[id(value)] = cached
            return cached[1]
        return value.to(self.dtype)


def _is_lower(value: Any, dtype: torch.dtype) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == dtype


def _to_float32(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.dtype in (torch.bfloat16, torch.float16):
        return value.float()
    return value
