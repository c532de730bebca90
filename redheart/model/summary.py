"""Per-module parameter table, counted on the meta device (nothing allocated)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from redheart.config import ModelConfig
from redheart.model.catalog import BACKBONE_PARTS, MODULES, OPTIONAL_MODULES, ExecutionMode
from redheart.model.selection import enabled_modules
from redheart.model.unified import UnifiedModel


def model_summary(cfg: ModelConfig, mode: ExecutionMode = ExecutionMode.TRAINING,
                  source: str = "model config") -> dict[str, Any]:
    """`{"total_params", "modules": [{"name", "group", "params", "essential", "enabled"}]}`.

    Disabled modules are listed with the parameters they would have with
    every module on, so the console can show what enabling one costs;
    enabled ones are counted as built (the emotion analyzer's input and gate
    depend on which auxiliary modules are on). `total_params` counts only
    the enabled ones.
    """
    enabled = set(enabled_modules(cfg, mode, source))
    full = dataclasses.replace(cfg, modules=OPTIONAL_MODULES, disabled=())
    with torch.device("meta"):
        counts = UnifiedModel(full, ExecutionMode.TRAINING).module_params()
        counts.update(UnifiedModel(cfg, mode).module_params())
    rows = []
    for spec in BACKBONE_PARTS + MODULES:
        on = spec.group == "backbone" or spec.name in enabled
        rows.append({"name": spec.name, "group": spec.group, "params": counts[spec.name],
                     "essential": spec.essential, "enabled": on})
    total = sum(row["params"] for row in rows if row["enabled"])
    return {"total_params": total, "modules": rows}
