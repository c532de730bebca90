"""The rule table: how every parameter of the unified model grows.

Rules are written per module, by name, from the small model's config; they
are never guessed from tensor sizes, because a fixed width (the 8 experts'
router, say) can equal a cloned one. Every state-dict key must match exactly
one rule, so a module added to the model later without a rule fails loudly
instead of being cloned the wrong way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redheart.config import ModelConfig
from redheart.model.catalog import ANALYZER_OF_TASK
from redheart.model.decode import RAW_DIM
from redheart.model.grow.layout import (
    WHOLE_CLONED,
    WHOLE_FIXED,
    DimLayout,
    DimRule,
    cloned,
    fixed,
)
from redheart.tasks import EKMAN, SENTIMENTS, TASKS

ParamRules = dict[str, tuple[DimRule, ...]]
"""Parameter name (last part of the key) -> one DimRule per tensor dimension."""

_C, _F = WHOLE_CLONED, WHOLE_FIXED
_TASK = f"({'|'.join(TASKS)})"
_ENCODER_LAYER = r"(backbone\.transformer\.layers|utilities\.fusion)\.\d+"


class GrowRuleError(Exception):
    """A parameter has no rule or more than one: the rule table is out of date."""


def linear(out: DimLayout = _C, inp: DimLayout = _C) -> ParamRules:
    """nn.Linear: rows follow the output layout, columns the (contracted) input layout."""
    return {"weight": (DimRule(out), DimRule(inp, contracted=True)),
            "bias": (DimRule(out),)}


def conv1d(out: DimLayout = _C, inp: DimLayout = _C) -> ParamRules:
    """nn.Conv1d [out, in, taps]: as a linear, with the kernel taps kept."""
    return {"weight": (DimRule(out), DimRule(inp, contracted=True), DimRule(_F)),
            "bias": (DimRule(out),)}


def norm(layout: DimLayout = _C) -> ParamRules:
    """LayerNorm: the mean and variance of [x, x] are those of x, so tiling is exact."""
    return {"weight": (DimRule(layout),), "bias": (DimRule(layout),)}


def attention(d: int) -> ParamRules:
    """Packed q/k/v: each of q, k and v is cloned on its own ([q,q,k,k,v,v]).

    With n_heads doubled and head_dim kept, the grown q holds the small
    model's heads and then their copies; each copy attends exactly as its
    original, and out_proj (a cloned linear) maps [o, o] back to [y, y].
    Tiling the packed [3d, d] matrix as one block ([q,k,v,q,k,v]) would mix
    k into q's heads.
    """
    qkv = (cloned(d), cloned(d), cloned(d))
    return {"in_proj_weight": (DimRule(qkv), DimRule(_C, contracted=True)),
            "in_proj_bias": (DimRule(qkv),)}


@dataclass(frozen=True)
class RuleTable:
    """Ordered (module-path pattern, rules for its parameters) pairs."""

    entries: tuple[tuple[re.Pattern[str], ParamRules], ...]

    def lookup(self, key: str) -> tuple[DimRule, ...]:
        module, _, name = key.rpartition(".")
        found = [rules[name] for pattern, rules in self.entries
                 if pattern.fullmatch(module) and name in rules]
        if len(found) != 1:
            why = "no grow rule" if not found else f"{len(found)} grow rules"
            raise GrowRuleError(f"{key}: {why}; add one to redheart/model/grow/rules.py")
        return found[0]


def rule_table(cfg: ModelConfig, enabled: tuple[str, ...]) -> RuleTable:
    """Rules for the model built from `cfg` with the modules `enabled`."""
    d = cfg.d_model
    pair = (cloned(d), cloned(d))
    features = (cloned(cfg.dsp_filters), cloned(cfg.dsp_filters),
                cloned(cfg.dsp_channels * cfg.dsp_bands))
    table: list[tuple[str, ParamRules]] = [
        # backbone
        (r"backbone\.input_projection\.0", linear(inp=_F)),
        (r"backbone\.input_projection\.(1|5)", norm()),
        (r"backbone\.input_projection\.4", linear()),
        (rf"{_ENCODER_LAYER}\.(norm1|norm2)", norm()),
        (rf"{_ENCODER_LAYER}\.self_attn", attention(d)),
        (rf"{_ENCODER_LAYER}\.(self_attn\.out_proj|linear1|linear2)", linear()),
        (r"backbone\.transformer\.final_norm", norm()),
        (rf"backbone\.task_attention\.{_TASK}\.score\.0", linear()),
        (rf"backbone\.task_attention\.{_TASK}\.score\.2", linear(out=_F)),
        (rf"backbone\.task_projections\.{_TASK}\.(0|2)", linear()),
        (rf"backbone\.task_projections\.{_TASK}\.3", norm()),
        (rf"backbone\.task_specialization\.{_TASK}\.(down|up)", linear()),
        (rf"backbone\.task_specialization\.{_TASK}\.norm", norm()),
        # emotion head: the router reads a cloned vector and keeps its E logits,
        # so routing is unchanged; each level reads [h, previous level's softmax].
        (r"emotion_head\.(norm|moe_norm)", norm()),
        (r"emotion_head\.(base|moe\.experts\.\d+|sentiment|cultural)\.0", linear()),
        (r"emotion_head\.(base|moe\.experts\.\d+)\.3", linear()),
        (r"emotion_head\.moe\.router", linear(out=_F)),
        (r"emotion_head\.ekman\.0", linear(inp=(cloned(d), fixed(len(SENTIMENTS))))),
        (r"emotion_head\.fine\.0", linear(inp=(cloned(d), fixed(len(EKMAN))))),
        (r"emotion_head\.(sentiment|ekman|fine|cultural)\.3", linear(out=_F)),
        # bentham head
        (r"bentham_head\.(trunk\.0|out_norm)", norm()),
        (r"bentham_head\.(trunk\.1|experts\.\d+\.0|experts\.\d+\.3)", linear()),
        (r"bentham_head\.(gate|out)", linear(out=_F)),
        # regret head: the regret reads the three views side by side
        (r"regret_head\.(trunk_norm|view_norm)", norm()),
        (r"regret_head\.(trunk|views\.\d+)\.(0|3)", linear()),
        (r"regret_head\.view_out\.\d+", linear(out=_F)),
        (r"regret_head\.regret_out", linear(out=_F, inp=(cloned(d),) * 3)),
        # surd head
        (r"surd_head\.(norm|out_norm)", norm()),
        (r"surd_head\.components\.\d+\.(0|3)", linear()),
        (r"surd_head\.scores\.\d+", linear(out=_F)),
        # dsp simulator: channels and filters are widened too; its features are
        # [mean (filters), peak (filters), band energies (channels x bands)].
        (r"dsp_simulator\.intensity", linear()),
        (r"dsp_simulator\.filterbank", conv1d()),
        (r"dsp_simulator\.norm", norm(features)),
        (r"dsp_simulator\.mlp\.0", linear(inp=features)),
        (r"dsp_simulator\.mlp\.3", linear()),
        # kalman filter: its context reads [head hidden, analyzer hidden]; the 7x7
        # state, the Cholesky factors and the process noise keep their sizes.
        (r"kalman_filter\.context\.0", norm(pair)),
        (r"kalman_filter\.context\.1", linear(inp=pair)),
        (r"kalman_filter\.context\.3", linear()),
        (r"kalman_filter\.(prior_factor|measure_factor)", linear(out=_F)),
        (r"kalman_filter", {"transition": (DimRule(_F), DimRule(_F)),
                            "process_noise": (DimRule(_F),)}),
        # utilities: the task embedding is added to cloned vectors (tiled, not divided)
        (r"utilities", {"task_embedding": (DimRule(_F), DimRule(_C)),
                        "log_vars": (DimRule(_F),)}),
        (r"utilities\.norm", norm()),
        (r"utilities\.gate", linear(inp=pair)),
    ]
    for task, name in ANALYZER_OF_TASK.items():
        extra = (cloned(d),) if task == "emotion" and "dsp_simulator" in enabled else ()
        table += [
            (rf"{name}\.inp", linear(inp=(cloned(d), cloned(d), fixed(RAW_DIM[task])) + extra)),
            (rf"{name}\.(blocks\.\d+\.norm|norm)", norm()),
            (rf"{name}\.blocks\.\d+\.ff\.(0|3)", linear()),
            (rf"{name}\.out", linear(out=_F)),
            (rf"{name}\.gate", linear(out=_F, inp=pair)),
        ]
    return RuleTable(tuple((re.compile(p), rules) for p, rules in table))
