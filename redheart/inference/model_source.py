"""Where a trained model's files are: a checkpoint (any spelling) or an exported folder.

Everything is read from safetensors, JSON and TOML: loading a model to run
it never unpickles anything, so a folder from someone else cannot run code.
The checks here are all cheap (file presence, headers, the config), so a bad
MODEL argument is refused before the encoder or the weights are loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redheart.config import Config
from redheart.config_load import load_profile
from redheart.errors import RedHeartError
from redheart.runs.checkpoint_arg import FORMS, checkpoint_folder
from redheart.runs.checkpoints import CheckpointError
from redheart.train.regret_decision import decision_threshold

EXPORT_MARKER = "export.json"
EXPORT_FORMAT = "redheart-export"
EXPORT_SCHEMA = 1
EXPORT_FILES = ("model.safetensors", "config.toml", "labels.json", EXPORT_MARKER)
ENCODER_WEIGHTS = "encoder.safetensors"
"""A fine-tuned encoder's weights ([data] encoder_trainable), beside the model's."""


@dataclass(frozen=True)
class ModelSource:
    """A trained model's folder and what its own files say about it."""

    folder: Path
    exported: bool
    config: Config
    """The training config, with any `--set` overrides applied (e.g. model.disabled)."""
    step: int
    config_hash: str
    """The hash of the config the weights were trained under (before overrides)."""
    trained_rows: dict[str, int] | None
    modules: tuple[str, ...]
    regret_threshold: float
    """Predicted regret above which the author is judged in the wrong (regret_decision.py)."""

    @property
    def weights(self) -> Path:
        return self.folder / "model.safetensors"

    @property
    def encoder_weights(self) -> Path | None:
        path = self.folder / ENCODER_WEIGHTS
        return path if path.is_file() else None


def open_model(spec: str | Path, overrides: Iterable[str] = ()) -> ModelSource:
    """The model `spec` names, checked: a checkpoint folder, pointer, run dir or export."""
    path = Path(spec).expanduser()
    if path.is_dir() and (path / EXPORT_MARKER).exists():
        folder, meta = _exported(path)
    else:
        folder = checkpoint_folder(path)
        meta = _json(folder / "state.json")
    config = load_profile(folder / "config.toml", overrides)
    rows = meta.get("trained_rows")
    return ModelSource(folder=folder, exported=folder.joinpath(EXPORT_MARKER).is_file(),
                       config=config, step=int(meta.get("step", 0)),
                       config_hash=str(meta.get("config_hash", "")),
                       trained_rows=rows if isinstance(rows, dict) else None,
                       modules=tuple(meta.get("modules", ())),
                       regret_threshold=decision_threshold(meta))


def _exported(folder: Path) -> tuple[Path, dict[str, Any]]:
    for name in EXPORT_FILES:
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder}: exported folder without {name}; export it again "
                                  f"with `redheart export CHECKPOINT --out DIR`")
    meta = _json(folder / EXPORT_MARKER)
    if meta.get("format") != EXPORT_FORMAT:
        raise CheckpointError(f"{folder / EXPORT_MARKER}: not a Red Heart export (format "
                              f"{meta.get('format')!r}); pass {FORMS}, or an exported folder")
    if int(meta.get("schema", 0)) > EXPORT_SCHEMA:
        raise CheckpointError(f"{folder}: exported by a newer Red Heart (schema "
                              f"{meta['schema']} > {EXPORT_SCHEMA}); upgrade to load it")
    return folder.resolve(), meta


def read_json_object(path: Path, fix: str, error: type[RedHeartError] = CheckpointError
                     ) -> dict[str, Any]:
    """A JSON object from `path`, or one line naming the file and `fix`."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise error(f"{path}: unreadable ({exc}); {fix}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: not a JSON object; {fix}")
    return data


def _json(path: Path) -> dict[str, Any]:
    return read_json_object(path, "use another checkpoint or export it again")
