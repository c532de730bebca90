"""The unified model on real encoder states: shapes, ranges, gradients, padding."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from redheart.errors import ConfigError
from redheart.model.catalog import MODULES, OPTIONAL_MODULES, ExecutionMode
from redheart.model.unified import UnifiedModel
from redheart.tasks import TASKS

B = 16


def expected_shapes(n_experts: int) -> dict[str, tuple[int, ...]]:
    final = {"emotion_logits": (B, 7), "sentiment_logits": (B, 4), "fine_logits": (B, 28),
             "cultural": (B, 3), "moe_aux_loss": (), "moe_router_probs": (B, n_experts),
             "bentham_dims": (B, 7), "hedonic_value": (B,), "bentham_ethics_gate": (B, 4),
             "regret": (B,), "regret_views": (B, 3), "surd": (B, 4),
             "emotion_uncertainty": (B, 7)}
    deep = {"emotion_logits": (B, 7), "bentham_dims": (B, 7), "hedonic_value": (B,),
            "regret": (B,), "regret_views": (B, 3), "surd": (B, 4)}
    for prefix in ("head/", "analyzer/"):
        final.update({prefix + k: v for k, v in deep.items()})
    return final


def task_losses(out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fixed targets touching every output, so every parameter is on a loss path."""
    def all_keys(name: str) -> list[torch.Tensor]:
        return [out[k] for k in (name, f"head/{name}", f"analyzer/{name}") if k in out]

    emotion = sum(torch.nn.functional.cross_entropy(x, torch.arange(B) % 7)
                  for x in all_keys("emotion_logits"))
    emotion = emotion + out["sentiment_logits"].logsumexp(-1).mean()
    emotion = emotion + out["fine_logits"].sigmoid().mean() + out["cultural"].mean()
    emotion = emotion + out["moe_aux_loss"] + out.get("emotion_uncertainty", torch.zeros(1)).mean()
    bentham = sum(((x - 0.25) ** 2).mean() for x in all_keys("bentham_dims") +
                  all_keys("hedonic_value"))
    regret = sum(((x - 0.7) ** 2).mean() for x in all_keys("regret") + all_keys("regret_views"))
    surd = sum(((x - torch.tensor([0.1, 0.2, 0.3, 0.4])) ** 2).mean() for x in all_keys("surd"))
    return {"emotion": emotion, "bentham": bentham, "regret": regret, "surd": surd}


def test_outputs_have_documented_shapes_and_ranges(tiny_config, real_batch):
    torch.manual_seed(0)
    model = UnifiedModel(tiny_config).eval()
    with torch.no_grad():
        out = model(*real_batch)
    assert {k: tuple(v.shape) for k, v in out.items()} == expected_shapes(tiny_config.moe_experts)
    for key, value in out.items():
        assert torch.isfinite(value).all(), key
    for prefix in ("", "head/", "analyzer/"):
        surd = out[prefix + "surd"]
        assert torch.allclose(surd.sum(-1), torch.ones(B), atol=1e-6)
        assert (surd >= 0).all()
        views = out[prefix + "regret_views"]
        assert (views[:, 0] <= views[:, 1]).all() and (views[:, 1] <= views[:, 2]).all()
        assert ((out[prefix + "hedonic_value"] > -1) & (out[prefix + "hedonic_value"] < 1)).all()
    assert torch.allclose(out["moe_router_probs"].sum(-1), torch.ones(B), atol=1e-6)
    assert (out["emotion_uncertainty"] > 0).all()


def test_every_enabled_module_receives_gradient(tiny_config, real_batch):
    torch.manual_seed(0)
    model = UnifiedModel(tiny_config).train()
    out = model(*real_batch)
    model.combine_task_losses(task_losses(out)).backward()

    def grad_norm(module: torch.nn.Module) -> float:
        return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)

    for spec in MODULES:
        assert grad_norm(getattr(model, spec.name)) > 0, spec.name
    for name in ("input_projection", "transformer", "task_attention", "task_projections",
                 "task_specialization"):
        assert grad_norm(getattr(model.backbone, name)) > 0, name

    # Parameter by parameter: only experts the router did not choose may be idle.
    routed = set(out["moe_router_probs"].topk(tiny_config.moe_top_k, -1).indices.flatten().tolist())
    for name, param in model.named_parameters():
        idle = param.grad is None or not bool(param.grad.abs().sum() > 0)
        if name.startswith("emotion_head.moe.experts."):
            expert = int(name.split(".")[3])
            assert idle == (expert not in routed), name
        else:
            assert not idle, name


def test_padding_values_change_nothing(tiny_config, real_batch):
    states, mask = real_batch
    torch.manual_seed(0)
    model = UnifiedModel(tiny_config).eval()
    scrambled = states.clone()
    scrambled[~mask] = torch.linspace(-50, 50, int((~mask).sum()) * states.shape[-1]).view(
        -1, states.shape[-1])
    with torch.no_grad():
        a, b = model(states, mask), model(scrambled, mask)
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key
    # ...while changing a real token does change the prediction.
    changed = states.clone()
    changed[0, 1] += 1.0
    with torch.no_grad():
        c = model(changed, mask)
    assert not torch.allclose(a["emotion_logits"][0], c["emotion_logits"][0])


def test_disabled_optional_module_is_not_built(tiny_config, real_batch):
    cfg = dataclasses.replace(tiny_config, modules=("emotion_analyzer",))
    model = UnifiedModel(cfg)
    for name in ("dsp_simulator", "kalman_filter", "utilities"):
        assert getattr(model, name) is None
        assert not any(n.startswith(name) for n, _ in model.named_parameters())
    out = model(*real_batch)
    assert "emotion_uncertainty" not in out
    with pytest.raises(RuntimeError, match="utilities"):
        model.combine_task_losses(task_losses(out))


def test_model_without_optional_modules_still_predicts_every_task(tiny_config, real_batch):
    model = UnifiedModel(dataclasses.replace(tiny_config, modules=())).eval()
    assert model.enabled == tuple(s.name for s in MODULES if s.essential)
    out = model(*real_batch)
    for key in ("emotion_logits", "bentham_dims", "hedonic_value", "regret", "surd"):
        assert key in out
    assert "analyzer/emotion_logits" not in out  # emotion_analyzer is optional
    assert "analyzer/regret" in out


def test_essential_module_cannot_be_disabled_in_training(tiny_config):
    cfg = dataclasses.replace(tiny_config, disabled=("surd_analyzer",))
    with pytest.raises(ConfigError, match="'surd_analyzer' cannot be disabled in TRAINING"):
        UnifiedModel(cfg, ExecutionMode.TRAINING)
    with pytest.raises(ConfigError, match="cannot be disabled in EVALUATION"):
        UnifiedModel(cfg, ExecutionMode.EVALUATION)
    model = UnifiedModel(cfg, ExecutionMode.INFERENCE)
    assert not hasattr(model, "surd_analyzer")
    assert "surd_analyzer" not in model.module_params()


def test_heads_cannot_be_disabled_in_any_mode(tiny_config):
    cfg = dataclasses.replace(tiny_config, disabled=("regret_head",))
    with pytest.raises(ConfigError, match="'regret_head' cannot be disabled in any mode"):
        UnifiedModel(cfg, ExecutionMode.INFERENCE)


def test_uncertainty_weights_follow_kendall(tiny_config):
    model = UnifiedModel(tiny_config)
    with torch.no_grad():
        model.utilities.log_vars.copy_(torch.tensor([0.0, 1.0, -1.0, 2.0]))
    losses = {task: torch.tensor(float(i + 1)) for i, task in enumerate(TASKS)}
    expected = sum(torch.exp(-s) * (i + 1) + s for i, s in
                   enumerate(torch.tensor([0.0, 1.0, -1.0, 2.0])))
    assert torch.allclose(model.combine_task_losses(losses), expected)


def test_optional_modules_listed_match_catalogue():
    assert set(OPTIONAL_MODULES) == {"emotion_analyzer", "dsp_simulator", "kalman_filter",
                                     "utilities"}


def test_activation_checkpointing_gives_identical_gradients(tiny_config, real_batch):
    def grads(checkpoint: bool) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        model = UnifiedModel(tiny_config).train()
        model.backbone.transformer.checkpoint_layers = checkpoint
        model.combine_task_losses(task_losses(model(*real_batch))).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain, recomputed = grads(False), grads(True)
    assert plain.keys() == recomputed.keys()
    for name in plain:
        assert torch.allclose(plain[name], recomputed[name], atol=1e-6), name
