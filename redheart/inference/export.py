"""`redheart export`: a checkpoint as a self-contained folder to ship and run.

The folder holds what inference needs and nothing training-only: the
weights (no optimizer, no RNG), the resolved config, the encoder (its name,
and its weights when it was fine-tuned), the label names, a model card and
`export.json` (where it came from). It is written under a temporary name and
renamed when whole, so a failed export leaves nothing that looks usable.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from redheart.errors import RedHeartError
from redheart.inference.model_card import model_card
from redheart.inference.model_source import (
    ENCODER_WEIGHTS,
    EXPORT_FORMAT,
    EXPORT_MARKER,
    EXPORT_SCHEMA,
    ModelSource,
    open_model,
    read_json_object,
)
from redheart.runs.checkpoint_arg import checkpoint_folder
from redheart.runs.checkpoints import CheckpointError
from redheart.tasks import TARGETS

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

LABELS = {("ekman" if t.output == "emotion" else t.output): list(t.labels)
          for t in TARGETS if t.labels is not None}
"""labels.json: unit names of every output that has units (its Ekman list is keyed "ekman")."""


def export_model(checkpoint: Path, out: Path, dtype: str = "float32",
                 metrics: Path | None = None) -> dict[str, Any]:
    """Write the export folder; returns its export.json."""
    if dtype not in DTYPES:
        raise RedHeartError(f"--dtype {dtype}: pass one of {', '.join(DTYPES)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RedHeartError(f"--out {out}: already exists and is not an empty folder; pick a "
                            f"new folder (nothing is overwritten)")
    validation = _read_metrics(metrics) if metrics is not None else None
    source = open_model(checkpoint_folder(checkpoint))
    if metrics is not None and validation is not None:
        _check_same_checkpoint(metrics, validation, source.folder)
    meta = {"format": EXPORT_FORMAT, "schema": EXPORT_SCHEMA, "source": str(source.folder),
            "step": source.step, "config_hash": source.config_hash, "dtype": dtype,
            "modules": list(source.modules), "trained_rows": source.trained_rows,
            "regret_threshold": source.regret_threshold,
            "encoder": {"name": source.config.data.encoder,
                        "fine_tuned": source.encoder_weights is not None}}
    tmp = out.parent / f".tmp-export-{out.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        _write(source, tmp, DTYPES[dtype], meta, validation)
        if out.exists():
            out.rmdir()             # empty, checked above
        os.rename(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RedHeartError(f"--out {out}: cannot write the export ({exc.strerror}); free "
                            f"space or pick another folder") from None
    except BaseException:           # a damaged checkpoint, ctrl+c: no half-written folder
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def _write(source: ModelSource, folder: Path, dtype: torch.dtype, meta: dict[str, Any],
           validation: dict[str, Any] | None) -> None:
    save_file(_cast(_load(source.weights), dtype), str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    if source.encoder_weights is not None:
        save_file(_cast(_load(source.encoder_weights), dtype),
                  str(folder / ENCODER_WEIGHTS), metadata={"format": "pt"})
    shutil.copyfile(source.folder / "config.toml", folder / "config.toml")
    (folder / "labels.json").write_text(json.dumps(LABELS, indent=1) + "\n")
    (folder / "MODEL_CARD.md").write_text(model_card(source, meta, validation))
    (folder / EXPORT_MARKER).write_text(json.dumps(meta, indent=1) + "\n")
    # safetensors creates its files readable by their owner alone, whatever the umask; an
    # export is made to be shipped (a serving account, a shared model folder), so its
    # weights get the mode every other file here got from the umask.
    shared = (folder / EXPORT_MARKER).stat().st_mode & 0o777
    for weights in folder.glob("*.safetensors"):
        weights.chmod(shared)
    for file in folder.iterdir():
        with file.open("rb") as handle:
            os.fsync(handle.fileno())


def _check_same_checkpoint(path: Path, validation: dict[str, Any], folder: Path) -> None:
    """The card must describe the weights it ships: another checkpoint's figures are refused."""
    validated = validation.get("checkpoint")
    if isinstance(validated, str) and Path(validated).resolve() != folder.resolve():
        raise RedHeartError(f"--metrics {path}: validates {validated}, not the exported "
                            f"{folder}; pass the output of `redheart validate {folder} --json`")


def _load(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's tensors; a damaged file is the user's one-line error, as in predict."""
    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise CheckpointError(f"{path}: damaged ({exc}); use another checkpoint") from None


def _cast(tensors: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Floating tensors to `dtype`; integer buffers keep theirs."""
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}


def _read_metrics(path: Path) -> dict[str, Any]:
    fix = "pass the output of `redheart validate CHECKPOINT --json`"
    data = read_json_object(path, fix, RedHeartError)
    if not isinstance(data.get("metrics"), dict):
        raise RedHeartError(f"--metrics {path}: no \"metrics\" object; {fix}")
    return data
