"""A trained model's weights into an INFERENCE-mode model, analyzers optionally left out.

`[model] disabled` drops essential analyzers at inference (a lighter serving
model whose heads still predict every task). Their tensors in the file are
skipped; every other tensor must be there with the same shape, so a
checkpoint of another architecture is still refused, naming the modules.
"""

from __future__ import annotations

import torch
from safetensors import safe_open

from redheart.inference.model_source import ModelSource
from redheart.model.catalog import ExecutionMode
from redheart.model.unified import UnifiedModel
from redheart.runs.checkpoints import CheckpointError, refuse_other_architecture, shapes_of

RUNNABLE_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def inference_model(source: ModelSource, device: torch.device) -> UnifiedModel:
    """The model of `source`'s config in INFERENCE mode, its trained weights loaded, in fp32.

    Weights exported in bf16 or fp16 are widened to fp32: on a CPU half
    precision is many times slower, and on a GPU autocast picks the compute
    dtype per operation anyway.
    """
    model = UnifiedModel(source.config.model, ExecutionMode.INFERENCE)
    dropped = tuple(source.config.model.disabled)
    tensors = _read(source, dropped)
    refuse_other_architecture(source.folder, shapes_of(model.state_dict()), shapes_of(tensors))
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return model.to(device).eval()


def _read(source: ModelSource, dropped: tuple[str, ...]) -> dict[str, torch.Tensor]:
    path = source.weights
    try:
        with safe_open(str(path), framework="pt") as weights:
            every_key = list(weights.keys())
            tensors = {key: weights.get_tensor(key) for key in every_key
                       if key.split(".", 1)[0] not in dropped}
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{path}: damaged ({exc}); use another checkpoint") from None
    for key, tensor in tensors.items():
        if tensor.dtype not in RUNNABLE_DTYPES:
            raise CheckpointError(f"{path}: tensor {key} is {tensor.dtype}, which Red Heart "
                                  f"cannot run; export it with --dtype float32, bfloat16 or "
                                  f"float16")
    missing = [name for name in dropped if not any(k.startswith(name + ".") for k in every_key)]
    if missing:
        raise CheckpointError(f"{source.folder}: [model] disabled names {', '.join(missing)}, "
                              f"which this model was not trained with; remove it from "
                              f"--set model.disabled")
    return tensors

