"""The memory forecast: hand-computed categories, and the dry run against a real step."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from redheart.config import Config, DataConfig, MemoryConfig, TrainConfig
from redheart.data.batching import TARGET_SHAPES, Batch
from redheart.memory.activations import measure_saved
from redheart.memory.autocast_emulation import CudaAutocastEmulation
from redheart.memory.dry_run import measure_step, meta_model
from redheart.memory.forecast import Forecast, ModuleForecast, forecast
from redheart.model.catalog import ANALYZER_OF_TASK
from redheart.model.unified import UnifiedModel
from redheart.train.losses import LossSettings
from redheart.train.stages import combine_losses, compute_stage, forward_stage

MIB = 2**20


def tiny(tiny_config, **memory) -> Config:
    model = dataclasses.replace(tiny_config, modules=("emotion_analyzer", "dsp_simulator",
                                                      "kalman_filter", "utilities"))
    return Config(model=model, data=DataConfig(max_tokens=24),
                  train=TrainConfig(batch_size=8), memory=MemoryConfig(**memory))


def real_sizes(config: Config) -> dict[str, list[int]]:
    """Parameter sizes per module of a real CPU model (independent of the forecast's meta one)."""
    model = UnifiedModel(config.model)
    sizes = {name: [p.numel() for p in getattr(model.backbone, name.split(".")[1]).parameters()]
             for name in ("backbone.input_projection", "backbone.transformer",
                          "backbone.task_projections", "backbone.task_specialization",
                          "backbone.task_attention")}
    sizes.update({name: [p.numel() for p in getattr(model, name).parameters()]
                  for name in model.enabled})
    return sizes


def full_batch(inputs: torch.Tensor, mask: torch.Tensor) -> Batch:
    """A real batch in which every row carries every target, as the dry run's worst case."""
    rows = inputs.shape[0]
    batch = Batch(inputs, mask)
    generator = torch.Generator().manual_seed(1)
    for name, width in TARGET_SHAPES.items():
        shape = (rows,) if width == 0 else (rows, width)
        batch.targets[name] = torch.rand(shape, generator=generator)
        batch.present[name] = torch.ones(rows, dtype=torch.bool)
    batch.targets["emotion"] = torch.softmax(batch.targets["emotion"], -1)
    return batch


def by_module(result) -> dict[str, dict[str, int]]:
    return {m.name: m.bytes for m in result.modules if m.enabled}


def test_parameter_categories_match_hand_computed_bytes(tiny_config):
    config = tiny(tiny_config, context_mb=300)
    sizes = real_sizes(config)
    gpu = by_module(forecast(config, "cuda"))
    cpu = by_module(forecast(config, "cpu"))
    for name, numels in sizes.items():
        n = sum(numels)
        assert gpu[name]["weights"] == 4 * n and gpu[name]["gradients"] == 4 * n
        assert gpu[name]["optimizer"] == 8 * n                 # exp_avg + exp_avg_sq, fp32
        assert gpu[name]["optimizer_step"] == 0                # fused AdamW: in place
        assert cpu[name]["optimizer_step"] == 4 * max(numels)  # CPU loop: one tensor at a time
        assert cpu[name]["autocast_cache"] == 0                # fp32 on CPU
    assert forecast(config, "cuda").context == 300 * MIB
    assert forecast(config, "cpu").context == 0

    foreach = by_module(forecast(tiny(tiny_config, fused_adamw=False), "cuda"))
    assert all(foreach[n]["optimizer_step"] == 4 * sum(s) for n, s in sizes.items())

    offload = by_module(forecast(tiny(tiny_config, offload_analyzer_optimizer=True), "cuda"))
    for name, numels in sizes.items():
        expected = 0 if name in ANALYZER_OF_TASK.values() else 8 * sum(numels)
        assert offload[name]["optimizer"] == expected

    eight_bit = by_module(forecast(tiny(tiny_config, optimizer="adamw8bit"), "cuda"))
    for name, numels in sizes.items():
        expected = sum(2.03125 * n if n >= 4096 else 8 * n for n in numels)
        assert eight_bit[name]["optimizer"] == round(expected)


def test_total_is_the_peak_of_the_backward_profile():
    """Backward frees a module's activations as its gradients appear, in reverse order."""
    def module(name, grads, held, step=0):
        return ModuleForecast(name, grads // 4, True, True, {
            "weights": grads, "gradients": grads, "optimizer": 2 * grads,
            "activations": held, "optimizer_step": step})

    # forward order first -> last; backward visits last first
    first, last = module("first", 100, 50), module("last", 40, 300)
    result = Forecast("cuda", True, 8, 24, (first, last), context=7, order=("first", "last"))
    # states: forward end 350; after `last`'s backward 40 + 50 = 90; all done 140
    assert result.backward_peak() == 350
    assert result.total == 140 + 280 + 7 + 350
    accumulating = dataclasses.replace(result, accumulating=True)
    assert accumulating.backward_peak() == 140 + 350       # every gradient already exists
    stepping = Forecast("cuda", True, 8, 24, (module("first", 100, 50, step=400), last),
                        context=0, order=("first", "last"))
    assert stepping.total == 140 + 280 + (140 + 400)        # the step transient dominates


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_dry_run_equals_the_saved_tensors_of_a_real_fp32_cpu_step(tiny_config, real_batch,
                                                                   dropout):
    """Meta-device forecast vs the bytes autograd really saved on a CPU step, within 5%.

    With attention dropout the CPU runs the math attention kernel, without it
    the flash kernel; the dry run must follow both.
    """
    states, mask = real_batch
    rows, tokens = states.shape[:2]
    tiny_config = dataclasses.replace(tiny_config, dropout=dropout, attention_dropout=dropout)
    config = dataclasses.replace(tiny(tiny_config), data=DataConfig(max_tokens=tokens),
                                 train=TrainConfig(batch_size=rows))
    torch.manual_seed(0)
    model = UnifiedModel(config.model).train()
    batch = full_batch(states, mask)
    settings = LossSettings(torch.ones(7), 2.0, torch.ones(2))

    def step():
        return combine_losses(model, compute_stage(forward_stage(model, batch), settings),
                              config.train)

    real = measure_saved(model, step).total()
    dry = measure_step(config, bf16=False, pairs=False, device="cpu").total()
    assert real > 1 * MIB / 4
    assert abs(dry - real) / real < 0.05, (dry, real)
    # the backward that would follow really runs on the real step
    step().backward()
    assert all(p.grad is not None for p in model.backbone.parameters())


def test_activation_checkpointing_keeps_only_layer_inputs(tiny_config):
    plain = measure_step(tiny(tiny_config), bf16=False, pairs=False)
    ckpt = measure_step(tiny(tiny_config, activation_checkpointing=True), bf16=False, pairs=False)
    rows, tokens, d = 8, 24, tiny_config.d_model
    layer_input = rows * tokens * d * 4
    kept = ckpt.activations["backbone.transformer"]
    # each layer's input, plus what the final LayerNorm saves (its input, mean and rstd)
    assert (tiny_config.n_layers + 1) * layer_input <= kept < (tiny_config.n_layers + 1.1) * \
        layer_input
    assert plain.activations["backbone.transformer"] > 3 * ckpt.activations[
        "backbone.transformer"]
    assert ckpt.activations["emotion_head"] == plain.activations["emotion_head"]


def test_bf16_emulation_casts_matmuls_and_keeps_norms_in_float32(tiny_config):
    model = meta_model(tiny(tiny_config).model)
    layer = model.backbone.transformer.layers[0]
    x = torch.empty(2, 5, tiny_config.d_model, device="meta", requires_grad=True)
    emulation = CudaAutocastEmulation()
    with emulation:
        projected = layer.linear1(x)
        normed = layer.norm1(projected[..., : tiny_config.d_model])
    assert projected.dtype == torch.bfloat16 and normed.dtype == torch.float32
    cast = emulation.weight_casts[id(layer.linear1.weight)][1]
    assert cast.dtype == torch.bfloat16 and cast.shape == layer.linear1.weight.shape
    saved = measure_step(tiny(tiny_config), bf16=True, pairs=False)
    linear_params = sum(m.weight.numel() + (m.bias.numel() if m.bias is not None else 0)
                        for m in model.modules() if isinstance(m, torch.nn.Linear))
    mha_params = sum(m.in_proj_weight.numel() + m.in_proj_bias.numel()
                     for m in model.modules() if isinstance(m, torch.nn.MultiheadAttention))
    cast_total = sum(saved.autocast_cache.values())
    # every Linear/attention weight and bias gets one bf16 copy; the DSP conv and a few
    # matmul operands add a little on top
    assert 2 * (linear_params + mha_params) <= cast_total <= 2.1 * (linear_params + mha_params)


@pytest.mark.parametrize("pairs", [False, True])
def test_the_dry_run_allocates_nothing(tiny_config, pairs):
    saved = measure_step(tiny(tiny_config), bf16=False, pairs=pairs)
    assert saved.total() > 0
    assert all(p.is_meta for p in meta_model(tiny(tiny_config).model).parameters())


def test_savers_that_change_only_the_optimizer_reuse_the_dry_run(monkeypatch, tiny_config):
    """fused AdamW, 8-bit AdamW and offloading change no saved tensor: the planner trying
    them runs no new dry run; activation checkpointing does change them, and does run one."""
    from redheart.memory import dry_run

    runs = []
    real = dry_run.measure_saved
    monkeypatch.setattr(dry_run, "measure_saved", lambda *a, **k: runs.append(1) or real(*a, **k))
    dry_run._measured.cache_clear()
    config = tiny(tiny_config)
    first = measure_step(config, bf16=False, pairs=False)
    for saver in ({"fused_adamw": True}, {"optimizer": "adamw8bit"},
                  {"offload_analyzer_optimizer": True}):
        assert measure_step(tiny(tiny_config, **saver), bf16=False, pairs=False) == first
    assert len(runs) == 1
    checkpointed = measure_step(tiny(tiny_config, activation_checkpointing=True), bf16=False,
                                pairs=False)
    assert len(runs) == 2 and checkpointed.total() < first.total()
    total = first.total()
    first.activations.clear()                 # a caller's copy is its own
    assert measure_step(config, bf16=False, pairs=False).total() == total > 0
    assert len(runs) == 2


def test_a_refused_toggle_names_what_depends_on_the_module():
    """The console shows this reason; a generic "another module or train.loss_weighting"
    left the user to guess which."""
    from pathlib import Path

    from redheart.config_load import load_profile
    from redheart.errors import ConfigError
    from redheart.memory.forecast import toggle, toggled

    config = load_profile(Path(__file__).parents[1] / "profiles/quickstart.toml", [])
    with pytest.raises(ConfigError, match=r"^\[model\] modules: 'dsp_simulator' needs "
                                          r"'emotion_analyzer'"):
        toggle(config, "emotion_analyzer")
    with pytest.raises(ConfigError, match=r'^\[train\] loss_weighting = "uncertainty" needs '
                                          r"the 'utilities' module"):
        toggle(config, "utilities")
    assert toggled(config, "utilities") is None
    assert "kalman_filter" not in toggle(config, "kalman_filter").model.modules
