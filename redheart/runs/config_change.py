"""What `--resume` does when the profile changed since the checkpoint was written.

A checkpoint holds the resolved config it was trained with (`config.toml`
in its folder). Resuming with another config is how people raise the step
budget or lower the LR of a preempted job; it is also how they silently
break a run (another batch size replays other batches, another seed
another data order, another width cannot even load). So every key of the
schema is in exactly one of two lists, and `tests/test_config_change.py`
fails when a new key is in neither:

- `REFUSED`: keys that change the model, the optimizer state or the data
  order. Resuming with any of them changed stops with one line listing
  each key and its two values (exit 2).
- `ACCEPTED`: keys a continued run may change (schedule, step budget,
  checkpointing, memory savers, devices, loss settings). Each changed one is
  reported in a `warning` event.

A source's file or the encoder may be found under another folder after a
move to another machine: the same file name in another folder is accepted
(with a warning), another file name is refused.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from redheart.config import Config
from redheart.config_keys import flat_config, spell_value
from redheart.config_toml import dumps
from redheart.runs.checkpoints import CheckpointError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REFUSED_SECTIONS = ("model",)
"""Every key of these sections is refused, except those named in ACCEPTED."""

REFUSED = (
    "run.seed",
    "data.encoder", "data.max_tokens", "data.truncation", "data.encoder_trainable",
    "data.eval_fraction", "data.skip_bad_rows", "data.sources",
    "train.batch_size", "train.loss_weighting",
    "memory.optimizer",
)
"""Keys that change the weights' shapes, the optimizer state or the order of the data."""

ACCEPTED = (
    "run.name", "run.runs_root",
    "model.dropout", "model.attention_dropout",
    "data.cache_dir", "data.encode_batch",
    "train.max_steps", "train.epochs", "train.grad_accum", "train.lr", "train.weight_decay",
    "train.betas", "train.warmup_steps", "train.eta_min", "train.grad_clip",
    "train.task_weights", "train.focal_gamma", "train.regret_balance", "train.on_nonfinite",
    "train.max_skips", "train.no_param_update", "train.device", "train.precision",
    "train.peak_tflops", "train.eval_every", "train.init_from", "train.compile",
    "memory.budget_gb", "memory.context_mb", "memory.auto_savers",
    "memory.activation_checkpointing", "memory.fused_adamw",
    "memory.offload_analyzer_optimizer", "memory.micro_batch",
    "checkpoint.every_steps", "checkpoint.keep_last",
    "distributed.strategy", "distributed.backend", "distributed.timeout_s",
    "notify.urls", "notify.on", "notify.stall_minutes",
    "logging.tensorboard",
)
"""Keys a resumed run may change: the schedule and step budget, checkpointing, memory
savers, devices and process layout (checkpoints are in the single-process format),
notifications and logging."""

MOVABLE_PATHS = {"path", "labels", "ekman_mapping", "encoder"}
"""Fields naming a file or folder: the same name in another folder is the same input."""


@dataclass(frozen=True)
class Change:
    key: str
    before: Any
    after: Any
    moved: bool = False
    """The same file name in another folder: the same input, found elsewhere."""

    @property
    def refused(self) -> bool:
        return not self.moved and classify(self.key) == "refused"

    def describe(self) -> str:
        return f"{self.key} {spell_value(self.before)} -> {spell_value(self.after)}"


def classify(key: str) -> str:
    """"refused" or "accepted" for a dotted key (a source's field counts as data.sources);
    a KeyError for a key in neither list."""
    top = ".".join(key.split(".")[:2]).split("[")[0]
    if top in ACCEPTED or key in ACCEPTED:
        return "accepted"
    if top in REFUSED or key.split(".")[0] in REFUSED_SECTIONS:
        return "refused"
    raise KeyError(key)


def changes(before: dict[str, Any], after: Config) -> list[Change]:
    """Keys whose value differs between a checkpoint's config and the resolved one.

    A key only one side has (written by another version) is not compared:
    its value on the other side is unknown, not different.
    """
    old = flat_config(before)
    new = flat_config(tomllib.loads(dumps(after)))
    found = []
    for key in old.keys() & new.keys():
        a, b = old[key], new[key]
        if a == b:
            continue
        field = key.rsplit(".", 1)[-1]
        if field in MOVABLE_PATHS and isinstance(a, str) and isinstance(b, str) and a and b \
                and PurePath(a).name == PurePath(b).name:
            found.append(Change(key, a, b, moved=True))
            continue
        found.append(Change(key, a, b))
    return sorted(found, key=lambda c: c.key)


def check_resume_config(checkpoint: Path, config: Config) -> list[Change]:
    """The accepted changes since `checkpoint` was written; refuse the others in one line."""
    path = checkpoint / "config.toml"
    try:
        saved = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc}); the config it was trained with "
                              f"cannot be compared, so pick another checkpoint") from None
    found = changes(saved, config)
    refused = [c for c in found if c.refused]
    if refused:
        listed = "; ".join(c.describe() for c in refused)
        raise CheckpointError(
            f"--resume {checkpoint}: the profile changed what the run trains on or with: "
            f"{listed}; undo these changes to continue, or start a new run from this "
            f"checkpoint with [train] init_from")
    return found
