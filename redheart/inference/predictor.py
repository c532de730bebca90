"""Running a trained Red Heart on raw text: the engine behind `predict`, `load` and Try.

Text goes through the model's own encoder with the tokenisation it was
trained with. A raw text has no source, so it is read with the longest
per-source budget of training (`longest_budget`: a profile whose anecdotes
read 256 tokens head+tail reads every text that way; one with the default
budget everywhere, the first 128 tokens). A frozen encoder's states are rounded
through fp16 exactly as the encoder cache stores them, so a text gets the
numbers `validate` and training saw; no cache is read or written. Batches
are length-sorted (little padding) and run under `torch.inference_mode`,
with bf16 autocast on CUDA.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import torch
from safetensors.torch import load_file

from redheart.config import longest_budget
from redheart.data.encoder import TextEncoder, tokenize
from redheart.errors import RedHeartError
from redheart.inference.model_source import ModelSource, open_model
from redheart.inference.results import (
    FINE_THRESHOLD,
    HEAD_LEVEL_OUTPUTS,
    OUTPUT_LABELS,
    OUTPUT_TASK,
    ModelIdentity,
    Output,
    Prediction,
)
from redheart.inference.weights import inference_model
from redheart.runs.checkpoints import CheckpointError
from redheart.runs.full_state import load_model_state
from redheart.train.trained_rows import output_trained, untrained_outputs

_PROBABILITIES = {"emotion": ("emotion_logits", "softmax"),
                  "sentiment": ("sentiment_logits", "softmax"),
                  "fine": ("fine_logits", "sigmoid")}
"""Outputs the model gives as logits, and how they become probabilities."""


def inference_device(name: str) -> torch.device:
    """`--device`: cuda without a visible GPU is refused, never silently run on the CPU."""
    if name not in ("cpu", "cuda"):
        raise RedHeartError(f"--device {name}: pass cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise RedHeartError("--device cuda: no CUDA GPU is visible; run on a GPU machine or "
                            "pass --device cpu")
    return torch.device(name)


class Predictor:
    """A loaded model and its encoder, ready for `predict(texts)`."""

    def __init__(self, source: ModelSource, device: str = "cpu", batch_size: int = 64,
                 show_all: bool = False) -> None:
        if batch_size < 1:
            raise RedHeartError(f"--batch-size {batch_size}: pass a positive number")
        self.source = source
        self.device = inference_device(device)
        self.batch_size = batch_size
        self.show_all = show_all
        data = source.config.data
        budget = longest_budget(data)
        self.max_tokens = budget.max_tokens
        self.truncation = budget.truncation
        self.encoder = TextEncoder(data.encoder, self.max_tokens, self.device, self.truncation)
        if data.encoder_trainable:
            self._load_encoder_weights()
        wanted = source.config.model.input_dim
        if self.encoder.hidden_size != wanted:
            raise CheckpointError(f"{source.folder}: the model reads {wanted}-d states but "
                                  f"encoder {data.encoder} gives "
                                  f"{self.encoder.hidden_size}-d; keep the encoder it was "
                                  f"trained with")
        self.round_states = not data.encoder_trainable
        """The frozen encoder's states went through the fp16 cache in training."""
        self.model = inference_model(source, self.device)
        self.identity = ModelIdentity(str(source.folder), source.step, source.config_hash,
                                      tuple(source.config.model.disabled))

    def _load_encoder_weights(self) -> None:
        path = self.source.encoder_weights
        if path is None:
            raise CheckpointError(f"{self.source.folder}: trained with [data] "
                                  f"encoder_trainable but holds no encoder.safetensors; use "
                                  f"a checkpoint written by that run")
        load_model_state(self.encoder.model, load_file(str(path)))

    def untrained_outputs(self) -> list[str]:
        """Outputs no labelled row trained (hidden unless show_all)."""
        return untrained_outputs(self.source.trained_rows) or []

    # ------------------------------------------------------------------ predict

    def predict(self, texts: Sequence[str],
                fields: Sequence[dict[str, Any]] | None = None) -> list[Prediction]:
        """One Prediction per text, in the order given."""
        texts = list(texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise RedHeartError(f"text {index + 1}: empty; pass a non-empty text")
        lengths = self.token_counts(texts)
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        results: list[Prediction | None] = [None] * len(texts)
        for begin in range(0, len(order), self.batch_size):
            rows = order[begin:begin + self.batch_size]
            values = self.outputs_of([texts[i] for i in rows])
            for position, row in enumerate(rows):
                results[row] = Prediction(
                    text=texts[row], tokens=min(lengths[row], self.max_tokens),
                    truncated=lengths[row] > self.max_tokens, model=self.identity,
                    outputs=self._named(values, position),
                    fields=dict(fields[row]) if fields else {})
        return [r for r in results if r is not None]

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens of each text, up to max_tokens + 1 (one more means it was cut)."""
        ids = self.encoder.tokenizer(texts, truncation=True,
                                     max_length=self.max_tokens + 1)["input_ids"]
        return [len(row) for row in ids]

    def states(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token states and mask as the model saw them in training."""
        ids, mask = tokenize(self.encoder.tokenizer, texts, self.max_tokens, self.truncation)
        ids, mask = ids.to(self.device), mask.to(self.device)
        with torch.inference_mode(), self._autocast():
            states = self.encoder.states(ids, mask).float()
        if self.round_states:
            states = states.half().float()
        return states, mask

    def outputs_of(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """The model's raw named outputs (UnifiedModel.forward) for a batch of texts, fp32."""
        states, mask = self.states(texts)
        with torch.inference_mode(), self._autocast():
            out = self.model(states, mask)
        return {k: v.float().cpu() for k, v in out.items() if v.dim() > 0}

    def _autocast(self):
        if self.device.type != "cuda":
            return nullcontext()
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    # ------------------------------------------------------------------ naming

    def _named(self, values: dict[str, torch.Tensor], row: int) -> dict[str, Output]:
        named = {}
        for name, labels in OUTPUT_LABELS.items():
            trained = output_trained(self.source.trained_rows, name)
            if trained is False and not self.show_all:
                continue
            vector = _probabilities(values, name)[row]
            value: float | dict[str, float] = (
                float(vector) if labels is None
                else dict(zip(labels, vector.tolist(), strict=True)))
            above = None
            if name == "fine":
                above = tuple(sorted((k for k, p in value.items() if p >= FINE_THRESHOLD),
                                     key=lambda k: -value[k]))
            decision = {}
            if name == "regret":
                threshold = self.source.regret_threshold
                decision = {"wrong": bool(value > threshold), "threshold": threshold}
            named[name] = Output(value, trained, self._source_of(name), above, **decision)
        return named

    def _source_of(self, output: str) -> str:
        if output in HEAD_LEVEL_OUTPUTS:
            return "head"
        return "head" if self.model.analyzer(OUTPUT_TASK[output]) is None else "head+analyzer"


def _probabilities(values: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    if name not in _PROBABILITIES:
        return values[name]
    key, kind = _PROBABILITIES[name]
    return torch.softmax(values[key], -1) if kind == "softmax" else torch.sigmoid(values[key])


def load(model: str, device: str = "cpu", batch_size: int = 64,
         overrides: Sequence[str] = (), show_all: bool = False) -> Predictor:
    """A trained model, ready to `predict`: a checkpoint, a run directory or an export."""
    return Predictor(open_model(model, overrides), device, batch_size, show_all)
