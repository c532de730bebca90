"""`[train] init_from`: start a run from another checkpoint's model weights only.

A grown checkpoint (`redheart grow`) or a fine-tuning start point carries
weights but no optimizer state worth keeping: AdamW's moments belong to the
old parameters (and the grown model has other shapes), so the run starts at
step 0 with a fresh optimizer and the profile's warmup.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from redheart.config import Config
from redheart.errors import ConfigError
from redheart.memory.dry_run import meta_model
from redheart.runs.checkpoints import (
    load_checkpoint,
    refuse_other_architecture,
    saved_shapes,
    shapes_of,
)


def anchor_init_from(config: Config, profile_dir: Path, check: bool = True) -> Config:
    """The config with `init_from` made absolute (relative to the profile) and, with
    `check`, verified.

    A fresh run checks before anything is written (the folder, and its weights'
    shapes against this profile's model on `meta`), so a wrong start point costs
    no run directory. A resumed run skips the check: it continues its own
    checkpoint and reads `init_from` only when it was killed before its first
    one and starts again from step 0 (where loading reports the same errors).
    """
    spec = config.train.init_from
    if not spec:
        return config
    path = Path(spec).expanduser()
    path = (path if path.is_absolute() else profile_dir / path).resolve()
    if check:
        if not (path / "state.json").is_file() or not (path / "model.safetensors").is_file():
            raise ConfigError(f"{config.source}: [train] init_from = {spec!r}: {path} is not "
                              f"a checkpoint folder (no state.json / model.safetensors); point "
                              f"it at a checkpoints/step-N folder, e.g. one written by "
                              f"`redheart grow`")
        refuse_other_architecture(path, shapes_of(meta_model(config.model).state_dict()),
                                  saved_shapes(path))
    return dataclasses.replace(config, train=dataclasses.replace(config.train,
                                                                 init_from=str(path)))


def load_initial_weights(model: torch.nn.Module, config: Config) -> dict[str, int] | None:
    """Model weights from `init_from`; another architecture is refused naming the modules.

    Returns the rows that trained those weights: the new run carries them on,
    since its outputs start from what the earlier run learned.
    """
    state, _meta = load_checkpoint(Path(config.train.init_from), model, None)
    return state.trained_rows
