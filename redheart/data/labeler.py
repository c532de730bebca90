"""LLM labeler: fill missing targets of `jsonl` rows with a local causal LM.

The original system's "LLM preprocessing", made strict: the model is asked
for one JSON object with exactly the missing keys, its answer is parsed and
validated by the same rules as any JSONL row (ranges, the SURD simplex), and
a row whose answer fails is rejected with its reason, never patched. Raw
answers are cached by (model identity, prompt), so a re-run re-uses them.
Everything loads from a local directory; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from redheart.atomic_file import write_text_atomically
from redheart.config import Config
from redheart.data.bad_rows import DataError
from redheart.data.encode import file_checksum
from redheart.data.sources import resolve_path
from redheart.data.sources.jsonl import RowProblem, parse_row
from redheart.tasks import BENTHAM_DIMS, EKMAN, SURD

FILLABLE = {
    "emotion": f"one of {json.dumps(list(EKMAN))}",
    "bentham": "{" + ", ".join(f'"{d}": number 0..1' for d in BENTHAM_DIMS) + "}",
    "hedonic_value": "number -1..1 (how good the described action is overall)",
    "regret": "number 0..1 (how much the author should regret the action)",
    "surd": "{" + ", ".join(f'"{c}": number >= 0' for c in SURD) + "} summing to 1",
}
_IMPLIED_BY = {"emotion": ("emotion", "fine"), "hedonic_value": ("hedonic_value", "votes"),
               "regret": ("regret", "votes"), "surd": ("surd", "votes"), "bentham": ("bentham",)}


class LabelRejected(Exception):
    """The model's answer cannot be used; the message says why."""


def missing_targets(row: dict[str, Any]) -> list[str]:
    return [key for key, implied in _IMPLIED_BY.items() if not any(k in row for k in implied)]


def build_prompt(text: str, keys: list[str]) -> str:
    schema = ",\n".join(f'  "{key}": {FILLABLE[key]}' for key in keys)
    return ("Label the text for an emotion and ethics model. Answer with one JSON object and "
            "nothing else, with exactly these keys:\n{\n" + schema + "\n}\n\n"
            f"Text: {json.dumps(text)}\nJSON:")


def parse_answer(answer: str, text: str, keys: list[str]) -> dict[str, Any]:
    """The validated target object, or LabelRejected naming what is wrong."""
    start = answer.find("{")
    if start < 0:
        raise LabelRejected("no JSON object in the answer")
    try:
        obj, _ = json.JSONDecoder().raw_decode(answer[start:])
    except json.JSONDecodeError as exc:
        raise LabelRejected(f"invalid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise LabelRejected("the answer is not a JSON object")
    if set(obj) != set(keys):
        extra, absent = sorted(set(obj) - set(keys)), sorted(set(keys) - set(obj))
        raise LabelRejected(f"keys differ from the request (extra {extra}, missing {absent})")
    try:
        parse_row({"text": text, **obj}, "answer")
    except RowProblem as exc:
        raise LabelRejected(str(exc)) from None
    return obj


class LocalLM:
    """Greedy generation with a local transformers causal LM (optionally int8 on CPU)."""

    def __init__(self, model_dir: Path, int8: bool = False, max_new_tokens: int = 160) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not (model_dir / "config.json").is_file():
            raise DataError(f"--label-with {model_dir}: not a Hugging Face model directory "
                            f"(no config.json)")
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        try:  # safetensors only: a pickled weights file (pytorch_model.bin) is never opened
            self.model = AutoModelForCausalLM.from_pretrained(
                model_dir, local_files_only=True, use_safetensors=True).eval()
        except (OSError, ValueError) as exc:
            raise DataError(f"--label-with {model_dir}: cannot load the model "
                            f"({str(exc).strip().splitlines()[0]}); it must hold "
                            f"model.safetensors (pickled weights are never loaded)") from None
        if int8:
            self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear},
                                                                dtype=torch.qint8)
        self.max_new_tokens = max_new_tokens
        self.identity = hashlib.blake2b(
            (model_dir / "config.json").read_bytes()
            + "".join(file_checksum(p) for p in sorted(model_dir.glob("*.safetensors"))).encode()
            + f"int8={int8}".encode(), digest_size=8).hexdigest()
        self.calls = 0

    def generate(self, prompt: str) -> str:
        import torch

        self.calls += 1
        inputs = self.tokenizer(prompt, return_tensors="pt")
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens,
                                      do_sample=False, pad_token_id=pad)
        return self.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:],
                                     skip_special_tokens=True)


@dataclass
class LabelReport:
    output: Path
    filled: int = 0
    rejected: list[str] = field(default_factory=list)
    complete: int = 0
    """Rows that already had every target."""


def label_file(path: Path, lm: LocalLM, out_dir: Path, cache_dir: Path) -> LabelReport:
    """Write `out_dir/<stem>.labeled.jsonl`: every row, with validated targets filled."""
    cache_path = cache_dir / "labels" / f"{lm.identity}.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    out_dir.mkdir(parents=True, exist_ok=True)
    report = LabelReport(out_dir / f"{path.stem}.labeled.jsonl")
    rows_out = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
                parse_row(row, where)
            except (json.JSONDecodeError, RowProblem) as exc:
                raise DataError(f"{where}: {exc}; fix the row before labelling") from None
            keys = missing_targets(row)
            if not keys:
                report.complete += 1
                rows_out.append(row)
                continue
            prompt = build_prompt(row["text"], keys)
            key = hashlib.blake2b(prompt.encode(), digest_size=16).hexdigest()
            if key not in cache:
                cache[key] = lm.generate(prompt)
            try:
                row = {**row, **parse_answer(cache[key], row["text"], keys)}
                report.filled += 1
            except LabelRejected as exc:
                report.rejected.append(f"{where}: {exc}")
            rows_out.append(row)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache_path.write_text(json.dumps(cache))
    write_text_atomically(report.output, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                 for r in rows_out))
    return report


def label_sources(config: Config, base_dir: Path, model_dir: Path, console: Console,
                  int8: bool = False) -> list[LabelReport]:
    sources = [s for s in config.data.sources if s.kind == "jsonl"]
    if not sources:
        raise DataError(f"{config.source}: --label-with needs a jsonl source in [data] sources")
    lm = LocalLM(model_dir, int8=int8)
    reports = []
    for source in sources:
        path = resolve_path(source, base_dir)
        report = label_file(path, lm, Path(config.data.cache_dir) / "labeled",
                            Path(config.data.cache_dir))
        console.print(f"labelled {path}: {report.filled} filled, {len(report.rejected)} "
                      f"rejected, {report.complete} already complete -> {report.output}",
                      highlight=False, soft_wrap=True)
        for reason in report.rejected[:10]:
            console.print(f"  rejected {reason}", highlight=False, soft_wrap=True)
        reports.append(report)
    return reports
