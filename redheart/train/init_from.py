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
from redheart.runs.checkpoint_arg import checkpoint_folder, refuse_other_model
from redheart.runs.checkpoints import CheckpointError, TrainState, load_checkpoint


def anchor_init_from(config: Config, profile_dir: Path, check: bool = True) -> Config:
    """The config with `init_from` made absolute (relative to the profile) and, with
    `check`, resolved to the checkpoint folder it names and verified.

    `init_from` takes every spelling of `checkpoint_folder` (step folder,
    best/last pointer, run directory). A fresh run resolves and checks before
    anything is written (the folder, and its weights' shapes against this
    profile's model on `meta`), so a wrong start point costs no run directory,
    and its recorded config names the exact folder it started from; so does a
    `--resume last` with no checkpoint to continue (a restart loop's first
    launch, or one killed before its first checkpoint), which starts at step 0
    too. A run resumed from a checkpoint skips the check: it continues its own
    weights and never reads `init_from`.
    """
    spec = config.train.init_from
    if not spec:
        return config
    path = Path(spec).expanduser()
    path = (path if path.is_absolute() else profile_dir / path).resolve()
    if check:
        try:
            path = checkpoint_folder(path)
        except CheckpointError as exc:
            raise ConfigError(f"{config.source}: [train] init_from = {spec!r}: {exc}") from None
        refuse_other_model(path, config.model)
    return dataclasses.replace(config, train=dataclasses.replace(config.train,
                                                                 init_from=str(path)))


def load_initial_weights(model: torch.nn.Module, config: Config, state: TrainState) -> None:
    """Model weights from `init_from`; another architecture is refused naming the modules.

    `state` (at step 0) carries on what describes the loaded function: the
    rows that trained it, and its calibrated regret threshold, so a checkpoint
    written before the new run's first eval (which recalibrates it) does not
    decide WRONG at the bare 0.5.
    """
    loaded, _meta = load_checkpoint(checkpoint_folder(config.train.init_from), model, None)
    state.trained_rows, state.regret_threshold = loaded.trained_rows, loaded.regret_threshold
