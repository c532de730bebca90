"""`redheart grow`: a trained checkpoint in, a 4x checkpoint and its profile out.

The output folder holds `checkpoints/step-00000000/` (model weights and the
grown config, no optimizer state) and `profile.toml`, the resolved grown
profile whose `[train] init_from` points at that checkpoint (at a quarter of
the small run's LR, without its step and row caps; see `continuing_profile`), so
`redheart run OUT/profile.toml` continues training the grown model with a
fresh optimizer and warmup. `--verify` compares both models on real batches
of the checkpoint's own data before anything is written.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from redheart.config import Config
from redheart.config_load import load_profile
from redheart.config_toml import dumps
from redheart.data.batching import BatchPlan, loader, source_lengths
from redheart.data.training_data import training_data
from redheart.errors import RedHeartError
from redheart.model.catalog import ExecutionMode
from redheart.model.grow.hyperclone import copies_for_factor, grow_state_dict
from redheart.model.grow.verify import TOLERANCE, output_deltas
from redheart.model.unified import UnifiedModel
from redheart.runs.checkpoint_arg import checkpoint_folder
from redheart.runs.checkpoints import (
    Snapshot,
    TrainState,
    checkpoint_name,
    load_checkpoint,
    write_checkpoint,
)


class VerifyError(RedHeartError):
    """The grown model does not compute what the small one did (a bug, not a user error)."""

    exit_code = 1


@dataclass
class GrowReport:
    """What `redheart grow` did, for the table and --json."""

    source: str
    out: str
    checkpoint: str
    profile: str
    factor: int
    params_before: int
    params_after: int
    noise_db: float | None
    new_layers: int
    deltas: dict[str, float] = field(default_factory=dict)
    """Output key -> max |delta| (empty without --verify)."""
    verify_batches: int = 0

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"tolerance": TOLERANCE}


def load_source(path: Path) -> tuple[Config, UnifiedModel, TrainState]:
    """The checkpoint's own config, its model with the trained weights, and its state.

    `path` comes from `checkpoint_folder`, which has checked that config.toml is there.
    """
    config = load_profile(path / "config.toml")
    model = UnifiedModel(config.model, ExecutionMode.TRAINING)
    state, _meta = load_checkpoint(path, model, None)
    return config, model, state


def grown_state(small: TrainState) -> TrainState:
    """The grown checkpoint's state: step 0, but what describes the function carried over.

    The grown model computes what the small one did, so it keeps the rows that
    trained it (which outputs are trained) and the calibrated WRONG threshold
    (without it predict falls back to 0.5 and changes the decisions of a
    function verified identical). The step, data position and loss history
    belong to the small run and start afresh.
    """
    return TrainState(trained_rows=small.trained_rows,
                      regret_threshold=small.regret_threshold)


def check_noise_db(noise_db: float | None) -> None:
    """Refuse an SNR whose noise is as large as the weights it perturbs, or larger.

    The paired noise cancels exactly only in exact arithmetic: at 0 dB and
    below it is the weights' own size, fp32 rounding of the +N/-N pairs grows
    with it (-20 dB already moves a tiny model's outputs by thousands), and it
    no longer merely breaks the copies' symmetry. inf would add nothing and nan
    would make every weight nan.
    """
    if noise_db is not None and not (math.isfinite(noise_db) and noise_db > 0):
        raise RedHeartError(f"--noise-db {noise_db:g}: the SNR must be a finite number of dB "
                            f"> 0 (noise smaller than the weights), e.g. --noise-db 20; omit "
                            f"it for no noise")


def check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RedHeartError(f"--out {out}: already exists and is not an empty folder; pick a "
                            f"new folder (nothing is overwritten)")


def verify_batches(config: Config, checkpoint: Path,
                   count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Up to `count` real batches from the checkpoint's data, spread over its sources.

    The evaluation split is preferred (it is what the grown model will be
    judged on); a dilemma batch contributes its first actions.
    """
    if config.data.encoder_trainable:
        raise RedHeartError(f"{checkpoint}: --verify reads cached frozen-encoder states; a "
                            f"checkpoint trained with [data] encoder_trainable is not supported")
    data = training_data(config, checkpoint)
    chosen = data.dev or data.train
    cache = data.featurizer
    plan = BatchPlan(source_lengths(chosen, cache), [1.0] * len(chosen),
                     config.train.batch_size, 0).every_row_once()
    per_source = max(1, -(-count // len(chosen)))
    taken: dict[int, int] = {}
    kept = []
    for source, rows in plan:
        if taken.get(source, 0) < per_source and len(kept) < count:
            taken[source] = taken.get(source, 0) + 1
            kept.append((source, rows))
    return [(batch.inputs, batch.mask) for batch in loader(chosen, cache, kept)]


GROWN_LR_FRACTION = 0.25
"""The grown run's peak LR as a fraction of the small one's: the README's bench/grow.py
reached the small model's loss in 0.44x the steps of scratch at a quarter, 1.11x at the
same LR (Adam moves both halves of every split weight, so the function moves twice as far
per step), and profiles/grow-1.3b.toml takes a quarter of local-8gb's."""


def grown_run_name(name: str, factor: int) -> str:
    """`[run] name` of the grown profile: its runs are named `<name>-<timestamp>`, and
    `redheart runs` shows the name as the profile, so a 4x model kept under the small
    one's name read as another run of it."""
    return f"{name}-x{factor}"


def continuing_profile(grown: Config, init_from: str, factor: int) -> Config:
    """The profile that trains the grown model on: the small run's, minus its run caps.

    The small run's config records `--samples N` as `limit = N` on every source and a
    smoke test's `--set train.max_steps=4` as its own; neither belongs to the run that
    continues, so both are cleared (all rows, `epochs` passes). The peak LR is
    `GROWN_LR_FRACTION` of the small one's, eta_min kept at or below it; the run name
    says the factor (grown_run_name).
    """
    lr = grown.train.lr * GROWN_LR_FRACTION
    sources = tuple(dataclasses.replace(s, limit=0) for s in grown.data.sources)
    return dataclasses.replace(
        grown, run=dataclasses.replace(grown.run, name=grown_run_name(grown.run.name, factor)),
        data=dataclasses.replace(grown.data, sources=sources),
        train=dataclasses.replace(grown.train, init_from=init_from, max_steps=0, lr=lr,
                                  eta_min=min(grown.train.eta_min, lr)))


def profile_header(checkpoint: Path, factor: int, small: Config) -> str:
    """The grown profile's comment: which keys are the small run's and which were changed."""
    capped = [f"data.sources[{i}] limit = {s.limit}" for i, s in enumerate(small.data.sources)
              if s.limit]
    dropped = [f"max_steps = {small.train.max_steps}"] if small.train.max_steps else []
    if capped:   # a profile's own limits too: the checkpoint's config cannot tell them apart
        dropped.append(f"{', '.join(capped)} (from --samples or the profile)")
    lines = [
        f"Grown by `redheart grow {checkpoint} --factor {factor}`: the checkpoint's profile",
        "with the grown widths; training continues from init_from with a fresh optimizer.",
        "Every other key is the small run's, except:",
        f"- [train] lr = {GROWN_LR_FRACTION:g} x the small run's {small.train.lr:g} (a grown model",
        "  continues at a fraction of the LR; README: Growing the model 4x);",
        f"- [run] name = '{grown_run_name(small.run.name, factor)}', so its runs are told from "
        f"the small run's;",
    ]
    if dropped:
        lines += [f"- dropped the small run's caps: {', '.join(dropped)}; set",
                  "  [train] max_steps (or run --samples N) for a shorter run."]
    lines += ["[train] and [memory] are the small run's: `redheart plan` this profile for the",
              "GPU it will train on (profiles/grow-1.3b.toml is the cloud-GPU version)."]
    return "".join(f"# {line}\n" for line in lines)


def grow_checkpoint(checkpoint: Path, out: Path, factor: int, noise_db: float | None = None,
                    new_layers: int = 0, verify: bool = False, batches: int = 4,
                    seed: int = 0,
                    on_verified: Callable[[GrowReport], None] | None = None) -> GrowReport:
    """Grow, optionally verify (raising VerifyError above the tolerance), then write.

    `on_verified` sees the deltas before the verdict, so a failing check
    still shows its table.
    """
    copies_for_factor(factor)  # the cheap checks first: factor, noise, checkpoint, output
    check_noise_db(noise_db)
    path = checkpoint_folder(checkpoint)   # a step folder, best/last pointer or run directory
    check_out_dir(out)
    config, small, small_state = load_source(path)
    grown_model_cfg, state = grow_state_dict(small, factor, noise_db, new_layers, seed)
    report = GrowReport(str(path), str(out), str(out / "checkpoints" / checkpoint_name(0)),
                        str(out / "profile.toml"), factor,
                        sum(p.numel() for p in small.parameters()),
                        sum(v.numel() for v in state.values()), noise_db, new_layers)
    if verify:
        grown = UnifiedModel(grown_model_cfg, ExecutionMode.TRAINING)
        grown.load_state_dict(state, assign=True)
        data = verify_batches(config, path, batches)
        report.deltas = output_deltas(small, grown, data)
        report.verify_batches = len(data)
        del grown
        if on_verified is not None:
            on_verified(report)
        worst = max(report.deltas, key=report.deltas.__getitem__)
        if report.deltas[worst] > TOLERANCE:
            raise VerifyError(f"grow --verify: max |delta| {report.deltas[worst]:.3g} on "
                              f"'{worst}' exceeds {TOLERANCE:g}; nothing was written to {out}")
    grown_config = dataclasses.replace(config, model=grown_model_cfg,
                                       train=dataclasses.replace(config.train, init_from=""))
    root = out / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    snap = Snapshot(model=state, extra={}, optimizer=None, rng=torch.get_rng_state(),
                    state=grown_state(small_state),
                    modules=list(small.enabled))   # the grown model learned what the small one did
    metrics = {"grown_from": str(path), "factor": factor, "noise_db": noise_db,
               "new_layers": new_layers, "max_abs_delta": report.deltas or None}
    write_checkpoint(root, snap, grown_config, metrics, is_best=False, keep_last=1)
    profile = continuing_profile(grown_config, f"checkpoints/{checkpoint_name(0)}", factor)
    (out / "profile.toml").write_text(profile_header(checkpoint, factor, config) + dumps(profile))
    return report
