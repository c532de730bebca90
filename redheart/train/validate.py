"""`redheart validate`: task metrics of a checkpoint on the evaluation splits, with baselines.

Baselines make a number meaningful: the class prior (or the training mean)
says what knowing nothing gets, and a logistic-regression probe on
mean-pooled frozen-encoder features says what the encoder alone gets. A
trained model that does not beat both has learned nothing worth its size.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from redheart.config import Config, load_profile
from redheart.data.batching import BatchPlan, Featurizer, loader, source_lengths
from redheart.data.encode import EncoderCache
from redheart.data.example import Example
from redheart.data.prepare import encode_sources, read_sources
from redheart.data.sources import SourceData
from redheart.data.split import split_sources
from redheart.errors import RedHeartError
from redheart.model.catalog import ExecutionMode
from redheart.model.labels import EKMAN
from redheart.model.unified import UnifiedModel
from redheart.runs.checkpoint_arg import checkpoint_folder, refuse_other_model
from redheart.runs.checkpoints import load_checkpoint
from redheart.train.trained_rows import untrained_outputs


def f1_scores(truth: np.ndarray, pred: np.ndarray, classes: int) -> list[float]:
    scores = []
    for c in range(classes):
        tp = float(np.sum((pred == c) & (truth == c)))
        fp = float(np.sum((pred == c) & (truth != c)))
        fn = float(np.sum((pred != c) & (truth == c)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return scores


def emotion_metrics(truth: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    per_class = f1_scores(truth, pred, len(EKMAN))
    present = [f for c, f in enumerate(per_class) if np.any(truth == c)]
    return {"macro_f1": float(np.mean(present)), "count": int(len(truth)),
            "f1": dict(zip(EKMAN, per_class, strict=True))}


def regret_metrics(truth: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    pearson = float(np.corrcoef(truth, pred)[0, 1]) if np.std(pred) > 0 else 0.0
    wrong_f1 = f1_scores((truth > 0.5).astype(int), (pred > 0.5).astype(int), 2)[1]
    return {"mae": float(np.mean(np.abs(truth - pred))), "pearson": pearson,
            "binarized_f1": wrong_f1, "count": int(len(truth))}


@torch.no_grad()
def predict(model: UnifiedModel, sources: list[SourceData], featurizer: Featurizer,
            batch_size: int = 64) -> dict[str, list]:
    """Predictions and targets gathered over every evaluation batch."""
    model.eval()
    got: dict[str, list] = {k: [] for k in ("emo_t", "emo_p", "reg_t", "reg_p", "surd_t",
                                            "surd_p", "pairs")}
    plan = BatchPlan(source_lengths(sources, featurizer), [1.0] * len(sources), batch_size, 0)
    for batch in loader(sources, featurizer, plan.every_row_once()):
        out = model(batch.inputs, batch.mask)
        if batch.pair_inputs is not None:
            second = model(batch.pair_inputs, batch.pair_mask)["hedonic_value"]
            first = out["hedonic_value"]
            less = batch.less_ethical.bool()
            correct = torch.where(less, second < first, first < second)
            got["pairs"] += correct.tolist()
            continue
        for target, output, t_key, p_key in (("emotion", "emotion_logits", "emo_t", "emo_p"),
                                             ("regret", "regret", "reg_t", "reg_p"),
                                             ("surd", "surd", "surd_t", "surd_p")):
            if target in batch.present:
                rows = batch.present[target]
                got[t_key] += batch.targets[target][rows].tolist()
                got[p_key] += out[output][rows].float().tolist()
    return got


def metrics_of(got: dict[str, list]) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    if got["emo_t"]:
        metrics["emotion"] = emotion_metrics(np.argmax(got["emo_t"], 1), np.argmax(got["emo_p"], 1))
    if got["reg_t"]:
        metrics["regret"] = regret_metrics(np.asarray(got["reg_t"]), np.asarray(got["reg_p"]))
    if got["pairs"]:
        metrics["bentham"] = {"pairwise_accuracy": float(np.mean(got["pairs"])),
                              "count": len(got["pairs"])}
    if got["surd_t"]:
        metrics["surd"] = {"mse": float(np.mean((np.asarray(got["surd_t"]) -
                                                 np.asarray(got["surd_p"])) ** 2)),
                           "count": len(got["surd_t"])}
    return metrics


def _pooled(cache: EncoderCache, examples: list[Example]) -> np.ndarray:
    return np.stack([cache.get(e.text).astype(np.float32).mean(0) for e in examples])


def baselines(train: list[SourceData], evaluation: list[SourceData], got: dict[str, list],
              cache: EncoderCache | None) -> dict[str, Any]:
    """Class prior / training mean, and a logistic-regression probe on frozen features."""
    from sklearn.linear_model import LogisticRegression

    train_ex = [e for s in train for e in s.examples]
    eval_ex = [e for s in evaluation for e in s.examples]
    prior: dict[str, Any] = {}
    probe: dict[str, Any] = {}
    emo_train = [e for e in train_ex if e.emotion is not None]
    emo_eval = [e for e in eval_ex if e.emotion is not None]
    if got["emo_t"] and emo_train:
        truth = np.argmax(got["emo_t"], 1)
        majority = int(np.argmax(np.sum([e.emotion for e in emo_train], 0)))
        prior["emotion"] = emotion_metrics(truth, np.full_like(truth, majority))
        if cache is not None and emo_eval:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf = LogisticRegression(max_iter=300).fit(
                    _pooled(cache, emo_train), np.argmax([e.emotion for e in emo_train], 1))
            probe["emotion"] = emotion_metrics(np.argmax([e.emotion for e in emo_eval], 1),
                                               clf.predict(_pooled(cache, emo_eval)))
    reg_train = [e for e in train_ex if e.regret is not None]
    reg_eval = [e for e in eval_ex if e.regret is not None]
    if got["reg_t"] and reg_train:
        mean = float(np.mean([e.regret for e in reg_train]))
        truth = np.asarray(got["reg_t"])
        prior["regret"] = regret_metrics(truth, np.full_like(truth, mean))
        labels = np.asarray([e.regret > 0.5 for e in reg_train])
        if cache is not None and reg_eval and 0 < labels.sum() < len(labels):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf = LogisticRegression(max_iter=300).fit(_pooled(cache, reg_train), labels)
            probe["regret"] = regret_metrics(np.asarray([e.regret for e in reg_eval]),
                                             clf.predict_proba(_pooled(cache, reg_eval))[:, 1])
    if got["pairs"]:
        prior["bentham"] = {"pairwise_accuracy": 0.5, "count": len(got["pairs"])}
    surd_train = [e.surd for e in train_ex if e.surd is not None]
    if got["surd_t"] and surd_train:
        mean = np.mean(surd_train, 0)
        prior["surd"] = {"mse": float(np.mean((np.asarray(got["surd_t"]) - mean) ** 2)),
                         "count": len(got["surd_t"])}
    return {"prior": prior, "probe": probe}


def validate(checkpoint: Path, profile: Path | None, overrides: list[str]) -> dict[str, Any]:
    """{"checkpoint": folder, "metrics": {task: {...}}, "baselines": {"prior": ..., "probe": ...}}.

    `checkpoint` is any spelling `checkpoint_folder` takes. Everything that
    can be refused without data (the folder, its config, the model's fit) is
    checked first: reading and encoding the data can take minutes.
    """
    folder = checkpoint_folder(checkpoint)
    profile_path = profile or folder / "config.toml"
    config: Config = load_profile(profile_path, overrides)
    if config.data.encoder_trainable:
        raise RedHeartError("validate reads cached frozen-encoder states; a checkpoint trained "
                            "with [data] encoder_trainable is not supported yet")
    refuse_other_model(folder, config.model)
    sources = read_sources(config, profile_path.resolve().parent)
    encode_sources(config, sources)
    train, evaluation = split_sources(sources, config.data.eval_fraction)
    if not evaluation:
        from redheart.data.bad_rows import DataError

        raise DataError(f"{config.source}: no evaluation data: add a source with split = "
                        f"\"dev\" or set [data] eval_fraction")
    cache = EncoderCache(config.data.cache_dir, config.data.encoder, config.data.max_tokens)
    model = UnifiedModel(config.model, ExecutionMode.EVALUATION)
    state, _meta = load_checkpoint(folder, model, None)
    got = predict(model, evaluation, cache, config.train.batch_size)
    return {"checkpoint": str(folder), "metrics": metrics_of(got),
            "baselines": baselines(train, evaluation, got, cache),
            "trained_rows": state.trained_rows,
            "untrained_outputs": untrained_outputs(state.trained_rows)}
