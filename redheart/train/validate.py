"""`redheart validate`: task metrics of a checkpoint on dev or test, next to its baselines.

A number means something only next to what knowing nothing gets (the
prior) and what the frozen encoder alone gets (a linear probe), each with a
95% bootstrap interval, so that "the model beats its baselines" is a claim
the intervals make, not a difference in the third decimal. Metrics are in
`redheart.train.metrics`, baselines in `redheart.train.baselines`, intervals
in `redheart.train.bootstrap`; the README's "validate --json" table
documents the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from redheart.config import Config
from redheart.config_load import load_profile
from redheart.data.bad_rows import DataError
from redheart.data.batching import BatchPlan, Featurizer, loader, source_lengths
from redheart.data.encode import SourceFeaturizers
from redheart.data.encoder import TextEncoder
from redheart.data.prepare import encode_sources
from redheart.data.sources import SourceData
from redheart.data.split import EVAL_SPLITS
from redheart.data.training_data import training_data
from redheart.errors import RedHeartError
from redheart.inference.predictor import inference_device
from redheart.model.catalog import ExecutionMode
from redheart.model.unified import UnifiedModel
from redheart.runs.checkpoint_arg import checkpoint_folder, refuse_other_model
from redheart.runs.checkpoints import CheckpointError, load_checkpoint
from redheart.runs.full_state import load_model_state
from redheart.train import baselines, bootstrap
from redheart.train.eval_set import EvalSet, Predictions, score
from redheart.train.regret_decision import decision_threshold
from redheart.train.stages import cached_states, forward_stage
from redheart.train.trained_rows import untrained_outputs

HIGHER_IS_BETTER = {"macro_f1": True, "single_label_accuracy": True,
                    "single_label_macro_f1": True, "mae": False, "pearson": True,
                    "binarized_f1": True, "pairwise_accuracy": True, "mse": False}
"""Every headline metric and its direction (per-class F1 is detail, not a verdict)."""


@torch.no_grad()
def model_outputs(model: UnifiedModel, sources: list[SourceData], featurizer: Featurizer,
                  batch_size: int = 64, encoder: TextEncoder | None = None,
                  device: torch.device | None = None) -> dict[int, dict[str, np.ndarray]]:
    """Per source, the model's outputs for each of its rows, in row order.

    Example sources get `emotion` (softmax of the logits), `regret` and
    `surd`; dilemma sources get the hedonic value of each pair's `first` and
    `second` action. With `encoder` (a checkpoint trained with
    `[data] encoder_trainable`) the featurizer yields token ids, and the
    fine-tuned encoder turns them into the states the model reads, as in
    the training step. `device` is where model and encoder already are.
    """
    model.eval()
    device = device or torch.device("cpu")
    states = cached_states if encoder is None else encoder.states
    out: dict[int, dict[str, np.ndarray]] = {}
    plan = BatchPlan(source_lengths(sources, featurizer), [1.0] * len(sources), batch_size,
                     0).every_row_once()
    for (source, rows), batch in zip(plan, loader(sources, featurizer, plan), strict=True):
        got = forward_stage(model, batch.to(device), states)["outputs"]
        if batch.pair_inputs is not None:
            values = {"first": got["pair_first"], "second": got["pair_second"]}
        else:
            values = {"emotion": torch.softmax(got["emotion_logits"].float(), -1),
                      "regret": got["regret"], "surd": got["surd"]}
        size = len(sources[source].pairs or sources[source].examples)
        for name, value in values.items():
            value = value.float().cpu().numpy()
            table = out.setdefault(source, {}).setdefault(
                name, np.zeros((size, *value.shape[1:])))
            table[rows] = value
    return out


def model_predictions(outputs: dict[int, dict[str, np.ndarray]], rows: EvalSet,
                      threshold: float) -> Predictions:
    """The model's `Predictions` in the EvalSet's row order; WRONG is regret > threshold."""
    def gather(keys: list[tuple[int, int]], name: str) -> np.ndarray | None:
        return np.stack([outputs[s][name][i] for s, i in keys]) if keys else None

    found = Predictions(emotion=gather(rows.emotion_keys, "emotion"),
                        regret=gather(rows.regret_keys, "regret"),
                        surd=gather(rows.surd_keys, "surd"))
    if found.regret is not None:
        found.wrong = found.regret > threshold
    if rows.pair_keys:
        first, second = gather(rows.pair_keys, "first"), gather(rows.pair_keys, "second")
        # The less-ethical action gets the lower hedonic value; a tie tells nothing.
        found.less_ethical = np.where(second < first, 1, np.where(first < second, 0, -1))
    return found


def beats(model: list[float] | None, references: list[list[float] | None],
          higher: bool) -> bool:
    """Whether the model's interval lies wholly on the better side of every reference's."""
    if model is None or not references or any(r is None for r in references):
        return False
    if higher:
        return all(model[0] > r[1] for r in references)
    return all(model[1] < r[0] for r in references)


def verdicts(metrics: dict[str, Any], intervals: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """{task: {metric: beats both baselines}} for every headline metric.

    Pearson r of the prior's constant estimate is undefined; a constant has
    no correlation with anything, so against it the model must show r > 0
    (its interval above [0, 0]).
    """
    out: dict[str, dict[str, bool]] = {}
    for task, values in metrics.items():
        for name, higher in HIGHER_IS_BETTER.items():
            if name not in values:
                continue
            references = []
            for kind in ("prior", "probe"):
                reference = intervals[kind].get(task, {}).get(name)
                if reference is None and kind == "prior" and name == "pearson" \
                        and task in intervals["prior"]:
                    reference = [0.0, 0.0]
                references.append(reference)
            out.setdefault(task, {})[name] = beats(intervals["model"][task][name], references,
                                                   higher)
    return out


def _check_split(config: Config, split: str) -> None:
    """Refused before any data is read: asking for a split the profile has not got."""
    if split not in EVAL_SPLITS:
        raise RedHeartError(f"--split {split}: expected one of {', '.join(EVAL_SPLITS)}")
    if split == "test" and not any(s.split == "test" for s in config.data.sources):
        raise DataError(f"{config.source}: no source has split = \"test\"; mark a held-out "
                        f"[[data.sources]] entry split = \"test\", or validate --split dev")


def _frozen_states(config: Config, sources: list[SourceData], device: torch.device,
                   on_progress: Callable[[int, int], None] | None) -> SourceFeaturizers:
    """Cached frozen-encoder states of `sources`, encoded now where missing.

    The probe is a baseline on the frozen encoder by definition, also beside
    a checkpoint whose encoder was fine-tuned: what the fine-tuning added is
    exactly what the comparison should show. A run with a trainable encoder
    caches nothing, so its first validate fills the cache.
    """
    frozen = replace(config, data=replace(config.data, encoder_trainable=False))
    encode_sources(frozen, sources, on_progress, device=device.type)
    return SourceFeaturizers(frozen, read=sources)


def _check_encoder_weights(folder: Path, config: Config) -> None:
    """A fine-tuned encoder's weights go with the checkpoint, and only with such a one.

    Refused before any data is read: scoring a fine-tuned model on the frozen
    encoder's states (or the other way round) would print numbers for a model
    that was never trained.
    """
    weights = folder / "encoder.safetensors"
    if config.data.encoder_trainable and not weights.is_file():
        raise CheckpointError(f"{folder}: [data] encoder_trainable, but the checkpoint holds "
                              f"no encoder.safetensors; validate a checkpoint of a run that "
                              f"trained the encoder, or set data.encoder_trainable=false")
    if weights.is_file() and not config.data.encoder_trainable:
        raise CheckpointError(f"{folder}: its encoder was fine-tuned (encoder.safetensors), "
                              f"but the profile has [data] encoder_trainable = false; "
                              f"validate it with its own config.toml")


def _load_encoder(folder: Path, config: Config, device: torch.device) -> TextEncoder:
    """The checkpoint's fine-tuned encoder; weights of another architecture are one line."""
    encoder = TextEncoder(config.data.encoder, config.data.max_tokens, device)
    try:
        load_model_state(encoder.model, load_file(str(folder / "encoder.safetensors")))
    except (RuntimeError, OSError, ValueError) as exc:
        raise CheckpointError(f"{folder}/encoder.safetensors: does not fit [data] encoder = "
                              f"'{config.data.encoder}' ({str(exc).splitlines()[0]}); "
                              f"validate with the encoder the run trained") from None
    return encoder                  # on `device` and in eval mode since it was built


def validate(checkpoint: Path, profile: Path | None, overrides: list[str],
             split: str = "dev", device: str = "cpu",
             on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The `validate --json` object (README, "validate --json").

    `checkpoint` is any spelling `checkpoint_folder` takes. Everything that
    can be refused without data (the folder, its config, the model's fit, a
    fine-tuned encoder's weights, the split) is checked first: reading and
    encoding the data take minutes.
    Priors and probes are fitted on the training split, never on what is
    scored. `device` runs the model (and a fine-tuned encoder) there;
    `on_progress` sees the texts encoded into a cache, when one is filled.
    """
    folder = checkpoint_folder(checkpoint)
    profile_path = profile or folder / "config.toml"
    config: Config = load_profile(profile_path, overrides)
    where = inference_device(device)
    refuse_other_model(folder, config.model)
    _check_encoder_weights(folder, config)
    _check_split(config, split)
    encoder = _load_encoder(folder, config, where) if config.data.encoder_trainable else None
    data = training_data(config, profile_path.resolve().parent, on_progress)
    evaluation = data.test if split == "test" else data.dev
    if not any(s.examples or s.pairs for s in evaluation):
        raise DataError(f"{config.source}: no {split} data: add a source with split = "
                        f"\"{split}\"" + (" or set [data] eval_fraction" if split == "dev"
                                          else ""))
    model = UnifiedModel(config.model, ExecutionMode.EVALUATION)
    state, meta = load_checkpoint(folder, model, None)
    model.to(where)
    rows = EvalSet.of(evaluation)
    threshold = decision_threshold(meta)
    outputs = model_outputs(model, evaluation, data.featurizer, config.train.batch_size,
                            encoder, where)
    predictions = {"model": model_predictions(outputs, rows, threshold),
                   "prior": baselines.prior(data.train, rows)}
    probe_states = (data.featurizer if encoder is None
                    else _frozen_states(config, data.train + evaluation, where, on_progress))
    predictions["probe"], probe_rows, penalties = baselines.probe(data.train, rows,
                                                                  probe_states)
    scored = {kind: score(rows, found) for kind, found in predictions.items()}
    intervals = {kind: found[1] for kind, found in scored.items()}
    return {"checkpoint": str(folder), "split": split,
            "metrics": scored["model"][0],
            "baselines": {"prior": scored["prior"][0], "probe": scored["probe"][0]},
            "intervals": intervals,
            "beats_baselines": verdicts(scored["model"][0], intervals),
            "counts": rows.counts(),
            "regret_threshold": threshold,
            "probe_regret_threshold": predictions["probe"].wrong_threshold,
            "prior_says_wrong": (bool(predictions["prior"].wrong.all())
                                 if predictions["prior"].wrong is not None else None),
            "bootstrap": {"resamples": bootstrap.RESAMPLES, "seed": bootstrap.SEED,
                          "level": bootstrap.LEVEL, "method": "percentile"},
            "probe_rows": {task: used.as_json() for task, used in probe_rows.items()},
            "probe_penalty": {task: chosen.as_json() for task, chosen in penalties.items()},
            "trained_rows": state.trained_rows,
            "untrained_outputs": untrained_outputs(state.trained_rows)}
