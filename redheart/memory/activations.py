"""Activation bytes, measured: what autograd saves for backward in one micro-step.

FORWARD and COMPUTE run on `meta` tensors (no memory, no arithmetic) under
`torch.autograd.graph.saved_tensors_hooks`; every tensor autograd saves is
recorded once per storage, charged to the catalogue module running at the
time, and counted only if it is still alive when the loss is ready (a dilemma
batch drops the graph of outputs it does not use). Parameters are weights,
not activations; autocast's bf16 copies of them are their own category.
A module outside the model that the step trains (the encoder, with
`[data] encoder_trainable`) is passed as an extra owner and charged the
same way. The same function measures a real step, which is how the tests
hold the dry run to the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.multiprocessing.reductions import StorageWeakRef

from redheart.memory.attention_kernels import AttentionKernelChoice
from redheart.memory.autocast_emulation import CudaAutocastEmulation
from redheart.model.catalog import BACKBONE_PARTS
from redheart.model.unified import UnifiedModel

LOSSES = "losses"
"""Where tensors saved outside every module go: the loss math and the model's glue."""


@dataclass
class SavedBytes:
    """Bytes autograd holds for backward, per catalogue module."""

    activations: dict[str, int] = field(default_factory=dict)
    autocast_cache: dict[str, int] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    """Catalogue modules in the order FORWARD first entered them (backward runs in reverse)."""

    def total(self) -> int:
        return sum(self.activations.values()) + sum(self.autocast_cache.values())


def module_owners(model: UnifiedModel) -> dict[str, nn.Module]:
    """Catalogue name -> module (the backbone split into its parts)."""
    owners = {part.name: getattr(model.backbone, part.name.split(".", 1)[1])
              for part in BACKBONE_PARTS}
    owners.update({name: getattr(model, name) for name in model.enabled})
    return owners


class _Recorder:
    def __init__(self, model: nn.Module, extra: dict[str, nn.Module],
                 weight_casts: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.stack: list[str] = []
        self.order: list[str] = []
        self.param_owner = {}
        for owner, module in (module_owners(model) | extra).items():
            for param in module.parameters():
                self.param_owner[id(param)] = owner
        self.params = {StorageWeakRef(p.untyped_storage())
                       for m in (model, *extra.values()) for p in m.parameters()}
        self.weight_casts = weight_casts
        self._cast_owner: dict[int, str] = {}
        self.seen: dict[StorageWeakRef, tuple[str, str, int]] = {}

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        """Record, and hand autograd a detached alias: the same storage (so it lives exactly
        as long as the graph needs it) without the grad_fn a saved output would point back
        through, which would make the graph a reference cycle that is never freed."""
        self.record(tensor)
        return tensor.detach()

    def record(self, tensor: torch.Tensor, owner: str | None = None) -> None:
        storage = tensor.untyped_storage()
        key = StorageWeakRef(storage)
        if key in self.params or key in self.seen:
            return
        category, owner = "activations", owner or (self.stack[-1] if self.stack else LOSSES)
        if len(self._cast_owner) != len(self.weight_casts):
            self._cast_owner = {cast.untyped_storage()._cdata: self.param_owner.get(id(p), LOSSES)
                                for p, cast in self.weight_casts.values()}
        if storage._cdata in self._cast_owner:
            category, owner = "autocast_cache", self._cast_owner[storage._cdata]
        self.seen[key] = (category, owner, storage.nbytes())

    def live(self) -> SavedBytes:
        """Activations still held by the graph (autocast copies are counted apart)."""
        out = SavedBytes()
        for key, (category, owner, size) in self.seen.items():
            if category == "activations" and not key.expired():
                out.activations[owner] = out.activations.get(owner, 0) + size
        return out

    def cast_bytes(self) -> dict[str, int]:
        """Every bf16 weight copy autocast made: its cache holds them all until the
        forward's autocast region exits, saved for backward or not (checkpointed layers)."""
        out: dict[str, int] = {}
        for param, cast in self.weight_casts.values():
            owner = self.param_owner.get(id(param), LOSSES)
            out[owner] = out.get(owner, 0) + cast.untyped_storage().nbytes()
        return out


@contextmanager
def _module_stack(owners: dict[str, nn.Module], recorder: _Recorder) -> Iterator[None]:
    handles = []
    for name, module in owners.items():
        def enter(_m, _a, name=name):
            recorder.stack.append(name)
            if name not in recorder.order:
                recorder.order.append(name)

        def leave(_m, _a, _o):
            recorder.stack.pop()

        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave, always_call=True))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _checkpoint_inputs(model: UnifiedModel, recorder: _Recorder) -> Iterator[None]:
    """A checkpointed layer saves nothing through autograd but keeps its input alive."""
    transformer = model.backbone.transformer
    if not transformer.checkpoint_layers:
        yield
        return

    def keep(_m, args):
        recorder.record(args[0], "backbone.transformer")

    handles = [layer.register_forward_pre_hook(keep) for layer in transformer.layers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def measure_saved(model: UnifiedModel, step: Callable[[], torch.Tensor],
                  autocast: CudaAutocastEmulation | None = None,
                  kernels: AttentionKernelChoice | None = None,
                  extra: dict[str, nn.Module] | None = None) -> SavedBytes:
    """Run `step` (FORWARD + COMPUTE, returning the loss) and count what backward would need.

    `autocast` is a CudaAutocastEmulation for a bf16 forecast, or None;
    `kernels` picks the attention kernel of the target device on meta;
    `extra` names trained modules outside the model (name -> module) that
    `step` runs. The loss is held until the count is taken, so exactly the
    graph backward would walk is alive.
    """
    extra = extra or {}
    casts = getattr(autocast, "weight_casts", {})
    recorder = _Recorder(model, extra, casts)
    with ExitStack() as stack:
        stack.enter_context(_module_stack(module_owners(model) | extra, recorder))
        stack.enter_context(_checkpoint_inputs(model, recorder))
        stack.enter_context(torch.autograd.graph.saved_tensors_hooks(recorder.pack, _unpack))
        stack.enter_context(kernels if kernels is not None else nullcontext())
        stack.enter_context(autocast if autocast is not None else nullcontext())  # innermost
        loss = step()
    saved = recorder.live()
    saved.autocast_cache = recorder.cast_bytes()
    saved.order = [*recorder.order, LOSSES]
    del loss
    casts.clear()
    return saved


def _unpack(tensor: torch.Tensor) -> torch.Tensor:
    return tensor
