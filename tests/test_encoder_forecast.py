"""The memory forecast of a trained text encoder ([data] encoder_trainable): its row, its
activations against a real CPU step, the savers around it, and the frozen forecast kept."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest
import torch

from redheart.config import Config, DataConfig, TrainConfig
from redheart.config_load import load_profile
from redheart.data.encoder import tokenize
from redheart.errors import ConfigError
from redheart.memory.activations import measure_saved
from redheart.memory.dry_run import measure_step
from redheart.memory.encoder_dry_run import ENCODER
from redheart.memory.forecast import forecast
from redheart.memory.selector import Budget, plan
from redheart.model.unified import UnifiedModel
from redheart.train.losses import LossSettings
from redheart.train.stages import combine_losses, compute_stage, forward_stage
from tests.conftest import PROFILES, TEST_TEXTS
from tests.test_memory_forecast import full_batch, tiny

GIB = 2**30
LOCAL = PROFILES / "local-8gb.toml"
RECORDED = Path(__file__).parent / "data" / "recorded_events"
TRAINED = "data.encoder_trainable=true"


def rows_of(result) -> dict[str, dict[str, int]]:
    return {m.name: m.bytes for m in result.modules if m.enabled}


def encoder_params(encoder) -> int:
    """Parameters of the real encoder, loaded with its weights (independent of the meta one)."""
    return sum(p.numel() for p in encoder.model.parameters())


def test_a_trained_encoder_adds_its_state_and_activations(encoder):
    frozen = forecast(load_profile(LOCAL), "cuda")
    trained = forecast(load_profile(LOCAL, [TRAINED]), "cuda")
    n = encoder_params(encoder)
    assert ENCODER not in rows_of(frozen)
    row = next(m for m in trained.modules if m.name == ENCODER)
    assert row.params == n and row.enabled and row.essential
    assert all(p.dtype == torch.float32 for p in encoder.model.parameters())
    before, after = frozen.category_totals(), trained.category_totals()
    assert after["weights"] - before["weights"] == 4 * n
    assert after["gradients"] - before["gradients"] == 4 * n
    assert after["optimizer"] - before["optimizer"] == 8 * n       # AdamW, fp32 moments
    assert row.bytes["activations"] > 100 * 2**20                  # 16 x 256 tokens
    assert row.bytes["autocast_cache"] > 0                          # bf16 copies of its Linears
    grown = trained.total - frozen.total
    assert grown >= (4 + 4 + 8) * n
    # weights and moments stay; its activations and casts are alive from its forward until
    # its own backward, the last (its gradients appear only as they are freed)
    assert grown >= 12 * n + row.bytes["activations"] + row.bytes["autocast_cache"]
    # the model's own rows are what they were
    for name, counts in rows_of(frozen).items():
        for category in ("weights", "gradients", "optimizer", "optimizer_step"):
            assert rows_of(trained)[name].get(category) == counts.get(category), name


def test_the_frozen_forecast_is_the_recorded_runs_plan():
    """A real quickstart run's `plan` event, recorded before the encoder was counted: the
    frozen forecast reproduces it byte for byte."""
    events = [json.loads(line) for line in (RECORDED / "events.jsonl").read_text().splitlines()]
    recorded = next(e for e in events if e["type"] == "plan")
    config = load_profile(RECORDED / "config.toml")
    assert not config.data.encoder_trainable
    now = forecast(config, recorded["device"]).as_json()
    assert now["forecast"] == recorded["forecast"]
    assert now["modules"] == recorded["modules"]


def _tiny(tiny_config, tokens: int, rows: int) -> Config:
    return dataclasses.replace(tiny(tiny_config),
                               data=DataConfig(max_tokens=tokens, encoder_trainable=True),
                               train=TrainConfig(batch_size=rows))


def test_dry_run_equals_the_saved_tensors_of_a_real_cpu_step_with_the_encoder(
        tiny_config, encoder):
    """Meta-device forecast vs the bytes autograd really saved on a CPU step that trains the
    real encoder (dropout on, so the CPU's math attention), within 5%, encoder alone too."""
    ids, mask = tokenize(encoder.tokenizer, TEST_TEXTS, 32)
    assert not bool(mask.all())                   # padded: transformers builds the mask
    rows, tokens = ids.shape
    config = _tiny(tiny_config, tokens, rows)
    torch.manual_seed(0)
    model = UnifiedModel(config.model).train()
    batch = full_batch(ids, mask)
    settings = LossSettings(torch.ones(7), 2.0, torch.ones(2))

    def step():
        forward = forward_stage(model, batch, encoder.states)    # as Trainer._states does
        return combine_losses(model, compute_stage(forward, settings), config.train)

    encoder.model.train()
    try:
        real = measure_saved(model, step, extra={ENCODER: encoder.model})
        step().backward()                         # the backward that would follow runs
        assert any(p.grad is not None and bool(p.grad.abs().sum() > 0)
                   for p in encoder.model.parameters())
    finally:
        encoder.model.eval()
        encoder.model.zero_grad(set_to_none=True)
    dry = measure_step(config, bf16=False, pairs=False, device="cpu")
    real_encoder, dry_encoder = real.activations[ENCODER], dry.activations[ENCODER]
    assert real_encoder > 1 * 2**20
    assert abs(dry_encoder - real_encoder) / real_encoder < 0.05, (dry_encoder, real_encoder)
    assert abs(dry.total() - real.total()) / real.total() < 0.05, (dry.total(), real.total())
    assert dry.order[0] == real.order[0] == ENCODER          # backward reaches it last
    frozen = measure_step(dataclasses.replace(
        config, data=DataConfig(max_tokens=tokens)), bf16=False, pairs=False, device="cpu")
    assert ENCODER not in frozen.activations
    # the token states the model reads are the encoder's output: counted once, under it
    states = rows * tokens * config.model.input_dim * 4
    assert dry.total() - frozen.total() >= dry_encoder - states


def test_a_pair_batch_runs_the_encoder_twice(tiny_config):
    config = _tiny(tiny_config, 24, 8)
    single = measure_step(config, bf16=True, pairs=False).activations[ENCODER]
    pair = measure_step(config, bf16=True, pairs=True).activations[ENCODER]
    assert 1.95 * single <= pair <= 2.05 * single


def test_savers_act_on_the_total_and_checkpointing_says_it_skips_the_encoder():
    config = load_profile(LOCAL, [TRAINED])
    fits = plan(config, "cuda", Budget(round(7.5 * GIB), "test"))
    steps = {s.name: s for s in fits.steps}
    # the encoder pushes the 8 GB profile over its budget; checkpointing brings it back
    assert fits.before.total > 7.5 * GIB >= fits.after.total
    assert steps["activation_checkpointing"].status == "applied"
    assert "trained encoder keeps its activations" in steps["activation_checkpointing"].detail
    checkpointed = rows_of(fits.after)
    assert checkpointed[ENCODER]["activations"] == rows_of(fits.before)[ENCODER]["activations"]
    frozen = plan(load_profile(LOCAL), "cuda", Budget(3 * GIB, "test"))
    assert all("encoder" not in s.detail for s in frozen.steps)
    # a smaller micro-batch shrinks the encoder's activations with the model's
    small = plan(config, "cuda", Budget(3 * GIB, "test"))
    assert {s.name: s.status for s in small.steps}["micro_batch"] == "applied"
    assert rows_of(small.after)[ENCODER]["activations"] < \
        checkpointed[ENCODER]["activations"] / 4
    assert small.fits is False and "data.encoder_trainable = false" in small.shortfall()
    # with FSDP2 the encoder's state is sharded like the model's
    sharded = rows_of(forecast(config, "cuda", 2, "fsdp2"))[ENCODER]
    assert sharded["weights"] == rows_of(fits.before)[ENCODER]["weights"] // 2


def test_the_encoder_row_is_no_module_to_switch():
    with pytest.raises(ConfigError, match="encoder"):
        load_profile(LOCAL, [TRAINED, 'model.disabled=["encoder"]'])
    with pytest.raises(ConfigError, match="encoder"):
        load_profile(LOCAL, [TRAINED, 'model.modules=["encoder"]'])


def test_an_encoder_too_short_for_the_longest_budget_is_refused_by_name():
    config = load_profile(PROFILES / "quickstart.toml", [TRAINED, "data.max_tokens=600"])
    with pytest.raises(ConfigError, match=r"quickstart.toml: .*at most 512 tokens.* 600"):
        forecast(config, "cpu")


def test_the_console_lists_no_encoder_to_toggle():
    """The plan carries the encoder's row (the memory panel's totals include it); the
    modules panel offers only catalogue modules."""
    from textual.widgets import DataTable, Static

    from tui.app import RedHeartApp

    async def scenario():
        app = RedHeartApp(PROFILES / "quickstart.toml", [TRAINED])
        async with app.run_test(size=(120, 40)) as pilot:
            forecast_text = app.query_one("#memory-forecast", Static)
            while "peak" not in str(forecast_text.render()):
                await pilot.pause(0.1)
            rows = [str(key.value) for key in app.query_one(DataTable).rows]
            assert "backbone.transformer" in rows and ENCODER not in rows

    asyncio.run(asyncio.wait_for(scenario(), 120))
