"""The catalogue of the unified model's modules, free of torch.

The config validator, `redheart summary`, the memory planner and the console
all need module names, groups and the essential flag; keeping them here means
none of those has to import torch just to check a profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ExecutionMode(str, Enum):
    """Decides which modules are built.

    TRAINING forces every essential module in, so that no essential task path
    is silently left untrained. EVALUATION mirrors TRAINING so a checkpoint is
    scored as it was trained. INFERENCE may leave essential analyzers out
    (heads alone still predict every task), for a lighter serving model.
    """

    TRAINING = "training"
    EVALUATION = "evaluation"
    INFERENCE = "inference"


@dataclass(frozen=True)
class ModuleSpec:
    """One selectable unit of the model as architecture.md §6 names it."""

    name: str
    group: str
    essential: bool
    budget_params: int
    """The parameter figure architecture.md §6 budgets at the `local-8gb` dimensions."""
    description: str
    requires: tuple[str, ...] = ()
    """Modules whose outputs this one consumes; enabling it without them is an error."""


BACKBONE_PARTS: tuple[ModuleSpec, ...] = (
    ModuleSpec("backbone.input_projection", "backbone", True, 1_200_000,
               "Linear-LN-GELU-Dropout-Linear-LN, input_dim -> d_model"),
    ModuleSpec("backbone.transformer", "backbone", True, 42_000_000,
               "pre-LN transformer encoder over the token states"),
    ModuleSpec("backbone.task_projections", "backbone", True, 3_200_000,
               "one bottleneck projection per task"),
    ModuleSpec("backbone.task_specialization", "backbone", True, 2_000_000,
               "per-task residual MLP adapters"),
    ModuleSpec("backbone.task_attention", "backbone", True, 1_000_000,
               "per-task attention pooling over token states (padding masked)"),
)

MODULES: tuple[ModuleSpec, ...] = (
    ModuleSpec("emotion_head", "head", True, 22_000_000,
               "MoE of 8 experts, sentiment -> Ekman -> fine hierarchy, cultural dims"),
    ModuleSpec("bentham_head", "head", True, 20_000_000,
               "4 gated ethics experts -> 7 hedonic dims + hedonic value"),
    ModuleSpec("regret_head", "head", True, 22_000_000,
               "optimistic / realistic / pessimistic views -> regret and its quantiles"),
    ModuleSpec("surd_head", "head", True, 16_000_000,
               "4 component networks -> SURD shares on the simplex"),
    ModuleSpec("emotion_analyzer", "analyzer", False, 50_000_000,
               "deep residual refiner of the emotion head, gated fusion"),
    ModuleSpec("bentham_calculator", "analyzer", True, 45_000_000,
               "deep residual refiner of the Bentham head, gated fusion"),
    ModuleSpec("regret_analyzer", "analyzer", True, 50_000_000,
               "deep residual refiner of the regret head, gated fusion"),
    ModuleSpec("surd_analyzer", "analyzer", True, 25_000_000,
               "deep residual refiner of the SURD head, gated fusion"),
    ModuleSpec("dsp_simulator", "auxiliary", False, 10_000_000,
               "filterbank + spectral features of per-token emotion intensities",
               requires=("emotion_analyzer",)),
    ModuleSpec("kalman_filter", "auxiliary", False, 5_000_000,
               "Kalman update fusing head and analyzer emotion estimates",
               requires=("emotion_analyzer",)),
    ModuleSpec("utilities", "auxiliary", False, 15_000_000,
               "cross-task attention fusion and task-uncertainty weights"),
)

MODULES_BY_NAME: dict[str, ModuleSpec] = {spec.name: spec for spec in MODULES}
OPTIONAL_MODULES: tuple[str, ...] = tuple(s.name for s in MODULES if not s.essential)
ESSENTIAL_MODULES: tuple[str, ...] = tuple(s.name for s in MODULES if s.essential)
ANALYZER_OF_TASK: dict[str, str] = {
    "emotion": "emotion_analyzer",
    "bentham": "bentham_calculator",
    "regret": "regret_analyzer",
    "surd": "surd_analyzer",
}


def essential_reason(name: str) -> str:
    """Why a module cannot be switched off in TRAINING, for messages and the console."""
    spec = MODULES_BY_NAME[name]
    if spec.group == "head":
        return f"{name} produces the only prediction of its task"
    return f"{name} is one of the original system's always-on analyzers"
