"""The memory planner: which savers a budget needs, exit 3 when none fits, and the engine
really implementing each saver."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import pytest
import torch

from redheart.config_load import load_profile
from redheart.memory.forecast import forecast
from redheart.memory.selector import Budget, plan
from redheart.step_shape import step_shape
from tests.conftest import PROFILES, run_here

GIB = 2**30
LOCAL = PROFILES / "local-8gb.toml"
NO_BNB = importlib.util.find_spec("bitsandbytes") is None


def statuses(result) -> dict[str, str]:
    return {s.name: s.status for s in result.steps}


def test_eight_gib_needs_no_saver_beyond_the_cuda_defaults():
    config = load_profile(LOCAL)
    result = plan(config, "cuda", Budget(8 * GIB, "test"))
    assert result.fits and result.config == config
    assert result.savers == ["bf16_autocast", "fused_adamw"]
    assert result.after.total == result.before.total < 8 * GIB


@pytest.mark.skipif(not NO_BNB, reason="expects bitsandbytes to be absent")
def test_five_gib_checkpoints_the_backbone_and_offloads_analyzer_state():
    config = load_profile(LOCAL)
    result = plan(config, "cuda", Budget(5 * GIB, "test"))
    s = statuses(result)
    assert s["activation_checkpointing"] == "applied"
    assert s["adamw_8bit"] == "unavailable"
    assert "pip install bitsandbytes" in next(x.detail for x in result.steps
                                              if x.name == "adamw_8bit")
    assert s["offload_analyzer_optimizer"] == "applied" and s["micro_batch"] == "not needed"
    assert result.fits and result.after.total <= 5 * GIB < result.before.total
    assert result.config.memory.activation_checkpointing
    assert result.config.memory.offload_analyzer_optimizer
    # each applied saver lowers the forecast, and the plan's figure is the final config's
    totals = [x.total_after for x in result.steps if x.status == "applied"]
    assert totals == sorted(totals, reverse=True)
    assert forecast(result.config, "cuda").total == result.after.total


def test_micro_batches_are_used_only_where_activations_outweigh_gradients():
    # 16 x 256 tokens (the anecdotes' budget): accumulation would keep every gradient alive
    # next to a micro-batch's activations, which are already smaller; it cannot help
    small = plan(load_profile(LOCAL), "cuda", Budget(4 * GIB, "test"))
    assert statuses(small)["micro_batch"] == "no gain" and small.fits is False
    assert small.config.memory.micro_batch == 0
    # 64 x 256 tokens: activations dominate, and smaller micro-batches make it fit
    config = load_profile(LOCAL, ["train.batch_size=64", "data.max_tokens=256"])
    result = plan(config, "cuda", Budget(5 * GIB, "test"))
    assert statuses(result)["micro_batch"] == "applied" and result.fits
    memory, train = result.config.memory, result.config.train
    assert 0 < memory.micro_batch < train.batch_size == 64
    assert train.batch_size % memory.micro_batch == 0
    whole = dataclasses.replace(result.config, memory=dataclasses.replace(memory, micro_batch=0))
    assert result.after.total < forecast(whole, "cuda").total


def test_auto_savers_off_applies_nothing():
    config = load_profile(LOCAL, ["memory.auto_savers=false"])
    result = plan(config, "cuda", Budget(5 * GIB, "test"))
    assert result.fits is False and result.config == config


def _plan(capsys, *args: str) -> tuple[int, str, str]:
    """`redheart plan ARGS` in this process: the 330M forecast is computed once for the
    three budgets below instead of once per subprocess (30 s of the suite)."""
    from redheart.cli import main

    try:
        code = main(["plan", *args])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_plan_cli_json_and_exit_codes(capsys):
    code, out, err = _plan(capsys, str(LOCAL), "--budget-gb", "8", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert {"total_params", "budget_bytes", "fits", "savers", "forecast", "modules"} <= set(body)
    assert body["budget_bytes"] == 8 * GIB and body["fits"] is True
    assert 320e6 < body["total_params"] < 340e6
    assert body["forecast"]["total"] < 8 * GIB
    f = body["forecast"]          # the sum the printed legend spells out
    assert f["total"] == (f["weights"] + f["optimizer"] + f["context"] + max(
        body["backward_peak"], f["gradients"] + f["optimizer_step"]))
    row = next(m for m in body["modules"] if m["name"] == "backbone.transformer")
    assert set(row) == {"name", "params", "enabled", "essential", "forecast"}
    assert row["forecast"]["activations"] > 0 and row["forecast"]["weights"] == 4 * row["params"]

    code, _, err = _plan(capsys, str(LOCAL), "--budget-gb", "2")
    assert code == 3
    message = err.strip()
    assert "\n" not in message and "does not fit the budget 2,048 MiB" in message
    assert "short by" in message and "largest: backbone.transformer" in message

    code, out, _ = _plan(capsys, str(LOCAL), "--budget-gb", "5")
    assert code == 0 and "activation_checkpointing: applied" in out
    assert "total = peak = wts + optim + CUDA context + max(backward " in " ".join(out.split())


def test_run_refuses_before_writing_anything_when_nothing_fits(tmp_path):
    result = run_here("run", "profiles/quickstart.toml", "--quiet", "--set",
                      "memory.budget_gb=0.001", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 3, result.stderr
    assert "does not fit the budget" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------- the engine's savers


def _trainer(quickstart_data, **memory):
    from redheart.data.split import split_sources
    from redheart.train.trainer import Trainer

    config, sources, featurizer = quickstart_data
    config = dataclasses.replace(config, memory=dataclasses.replace(config.memory, **memory),
                                 train=dataclasses.replace(config.train, device="cpu"))
    train, _ = split_sources(sources, config.data.eval_fraction)
    return Trainer(config, train, [], featurizer)


def _steps(trainer, n=3):
    from redheart.data.batching import loader

    batches = iter(loader(trainer.train_sources, trainer.featurizer, trainer.plan.epoch(0)))
    torch.manual_seed(1)           # the same dropout masks for both trainers compared
    return [trainer.train_step(next(batches)).loss["total"] for _ in range(n)]


def _same_parameters(a, b, atol):
    pairs = list(zip(a.model.parameters(), b.model.parameters(), strict=True))
    return all(torch.allclose(x, y, atol=atol) for x, y in pairs)


def test_activation_checkpointing_changes_memory_not_results(quickstart_data):
    plain = _trainer(quickstart_data)
    ckpt = _trainer(quickstart_data, activation_checkpointing=True)
    assert ckpt.model.backbone.transformer.checkpoint_layers
    assert _steps(plain) == _steps(ckpt)         # dropout RNG is replayed in the recompute
    assert _same_parameters(plain, ckpt, 1e-6)


def test_micro_batches_keep_the_effective_batch(quickstart_data):
    """Same rows per optimizer step and the same masked means; only the MoE balance term
    (a product of batch statistics) is computed per micro-batch."""
    config, sources, featurizer = quickstart_data
    no_dropout = dataclasses.replace(config, model=dataclasses.replace(
        config.model, dropout=0.0, attention_dropout=0.0))
    data = (no_dropout, sources, featurizer)
    whole = _trainer(data)
    quarters = _trainer(data, micro_batch=config.train.batch_size // 4)
    assert _steps(whole) == pytest.approx(_steps(quarters), rel=2e-3)
    whole, quarters = _trainer(data), _trainer(data, micro_batch=config.train.batch_size // 4)
    _steps(whole, 1), _steps(quarters, 1)
    # after one step, modules off the MoE's gradient path got exactly the same update
    for name in ("regret_head", "surd_head", "bentham_head", "regret_analyzer"):
        for a, b in zip(getattr(whole.model, name).parameters(),
                        getattr(quarters.model, name).parameters(), strict=True):
            assert torch.allclose(a, b, atol=1e-6), name


def test_host_offloaded_adamw_updates_like_plain_adamw(quickstart_data):
    plain = _trainer(quickstart_data)
    offload = _trainer(quickstart_data, offload_analyzer_optimizer=True)
    assert type(offload.optimizer).__name__ == "HostOffloadedAdamW"
    analyzer_params = [p for n, m in offload.model.named_children()
                       if n.endswith(("_analyzer", "_calculator")) for p in m.parameters()]
    assert len(offload.optimizer.host_params) == len(analyzer_params) > 0
    assert _steps(plain) == pytest.approx(_steps(offload), rel=1e-6)
    assert _same_parameters(plain, offload, 1e-6)
    state = offload.optimizer.state_dict()
    assert set(state) == {"device", "host"} and state["host"]["state"]


@pytest.mark.skipif(not NO_BNB, reason="expects bitsandbytes to be absent")
def test_eight_bit_adamw_names_what_it_needs(quickstart_data):
    from redheart.errors import RedHeartError

    with pytest.raises(RedHeartError, match="adamw8bit"):
        _trainer(quickstart_data, optimizer="adamw8bit")


def test_offloaded_optimizer_state_survives_a_checkpoint(quickstart_data, tmp_path):
    from redheart.runs.checkpoints import load_checkpoint, save_checkpoint

    first = _trainer(quickstart_data, offload_analyzer_optimizer=True)
    _steps(first, 2)
    path = save_checkpoint(tmp_path / "checkpoints", first.model, first.optimizer, first.state,
                           first.config, {}, False, 3)
    second = _trainer(quickstart_data, offload_analyzer_optimizer=True)
    load_checkpoint(path, second.model, second.optimizer)
    host_a, host_b = first.optimizer.host_part.state, second.optimizer.host_part.state
    assert len(host_a) == len(host_b) > 0
    for a, b in zip(first.optimizer.host_params, second.optimizer.host_params, strict=True):
        assert torch.equal(a, b)                        # master copies follow the weights
        if "exp_avg" in host_a[a]:                      # (a parameter without gradients
            assert torch.equal(host_a[a]["exp_avg"], host_b[b]["exp_avg"])  # has no state)
    assert _steps(first, 1) == _steps(second, 1)


def test_room_under_the_budget_raises_the_rows_per_forward_pass():
    # written for a small card: 16 rows as 4 forward passes of 4
    config = load_profile(LOCAL, ["train.grad_accum=4"])
    roomy = plan(config, "cuda", Budget(8 * GIB, "test"))
    step = next(s for s in roomy.steps if s.name == "micro_batch")
    assert step.status == "raised" and roomy.fits
    assert roomy.config.memory.micro_batch == 16 == roomy.config.train.batch_size
    assert step.detail.startswith("16 rows x 1 accumulation steps instead of 4 x 4")
    assert roomy.after.total == step.total_after <= 8 * GIB
    # between the two: the largest divisor of the batch whose forecast fits
    one_pass, four = roomy.after.total, roomy.before.total
    eight = forecast(dataclasses.replace(config, memory=dataclasses.replace(
        config.memory, micro_batch=8)), "cuda").total
    assert four < eight < one_pass
    middle = plan(config, "cuda", Budget((eight + one_pass) // 2, "test"))
    assert middle.config.memory.micro_batch == 8 and middle.after.total == eight
    # a CPU run, an explicit micro_batch, or auto_savers off: the profile's 4 x 4 stays
    for tight in (plan(config, "cpu", Budget(None, "")),
                  plan(load_profile(LOCAL, ["memory.micro_batch=4"]), "cuda",
                       Budget(8 * GIB, "test")),
                  plan(load_profile(LOCAL, ["train.grad_accum=4", "memory.auto_savers=false"]),
                       "cuda", Budget(8 * GIB, "test"))):
        assert tight.config.memory.micro_batch in (0, 4)
        assert step_shape(tight.config).accumulation_steps == 4
        assert next(s.status for s in tight.steps if s.name == "micro_batch") != "raised"
