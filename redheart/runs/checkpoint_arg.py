"""A checkpoint as users type it: a step folder, a `best`/`last` pointer, or a run directory.

`best` and `last` are pointer files, not folders, and people copy whichever
path their shell completes; every command that takes a checkpoint goes
through `checkpoint_folder`, so each accepts the same spellings and refuses
a missing or half-written checkpoint before any data is read.

The spellings, and what each means:

- `runs/NAME/checkpoints/step-N` (a folder holding state.json): that folder.
- `runs/NAME/checkpoints/best`: the folder the pointer names.
- `runs/NAME/checkpoints/last`: the newest complete folder, even when a kill
  left the pointer one behind (see recovery.py).
- `runs/NAME` or `runs/NAME/checkpoints`: best, else (a run that never
  evaluated, so has no best pointer) the newest complete folder. A best
  pointer whose folder is gone is refused rather than read as the newest.
- a `.tmp-*` folder, a `step-*` folder without state.json, or a folder
  missing model.safetensors or config.toml: refused, naming what is wrong.
"""

from __future__ import annotations

from pathlib import Path

from redheart.config import ModelConfig
from redheart.runs.checkpoints import (
    CheckpointError,
    pointer_target,
    refuse_other_architecture,
    saved_shapes,
    shapes_of,
)
from redheart.runs.recovery import TMP_PREFIX, complete_folders, newest_complete, read_meta

FORMS = "a checkpoints/step-N folder, a run directory, or its checkpoints/best or last pointer"


def checkpoint_folder(spec: str | Path) -> Path:
    """The absolute, complete checkpoint folder `spec` names.

    A run directory (or its `checkpoints/` folder) means its best checkpoint,
    else its newest complete one; `last` means the newest complete folder even
    when a kill beat the pointer (see recovery.py).
    """
    path = Path(spec).expanduser()
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint; pass {FORMS}")
    if path.is_file():
        if path.name not in ("best", "last"):
            raise CheckpointError(f"{path}: a file, not a checkpoint; pass {FORMS}")
        return _from_root(path.parent, path.name)
    if (path / "state.json").exists() or path.name.startswith(TMP_PREFIX):
        return whole_checkpoint(path)
    if (path / "checkpoints").is_dir():
        return _from_root(path / "checkpoints", None)
    if (path / "last").is_file() or path.name == "checkpoints":
        return _from_root(path, None)
    if path.name.startswith("step-"):   # a step folder without state.json: say it is damaged
        return whole_checkpoint(path)
    raise CheckpointError(f"{path}: not a checkpoint (no state.json) nor a run directory (no "
                          f"checkpoints/); pass {FORMS}")


def _from_root(root: Path, pointer: str | None) -> Path:
    """The folder a pointer names; without one, best, else the newest complete folder."""
    if pointer == "last":
        name = newest_complete(root, pointer_target(root, "last"))
    elif pointer == "best":
        name = pointer_target(root, "best")
        if name is None:
            raise CheckpointError(f"{root / 'best'}: an empty pointer; pass a step folder")
    else:   # a best pointer to a pruned folder is refused: the newest is not the best
        best, complete = pointer_target(root, "best"), complete_folders(root)
        if best is not None and best not in complete and complete:
            raise CheckpointError(f"{root / 'best'}: names {best}, which is missing or "
                                  f"incomplete (pruned or deleted); pass {root / 'last'} or a "
                                  f"step-N folder that exists")
        name = best if best in complete else newest_complete(root, pointer_target(root, "last"))
    if name is None:
        raise CheckpointError(f"{root.parent}: no checkpoint yet (nothing complete in "
                              f"{root}); wait for the run's first checkpoint")
    return whole_checkpoint(root / name)


def whole_checkpoint(folder: Path) -> Path:
    """`folder`, absolute, once it is known to be a complete checkpoint."""
    if folder.name.startswith(TMP_PREFIX):
        raise CheckpointError(f"{folder}: a half-written checkpoint (its write was cut off); "
                              f"pass a step-N folder beside it")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: the pointer names a missing folder (pruned or "
                              f"deleted); pass a step-N folder that exists")
    if read_meta(folder) is None:
        raise CheckpointError(f"{folder}/state.json: missing or unreadable; the checkpoint is "
                              f"damaged, pick another")
    for name in ("model.safetensors", "config.toml"):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder}: no {name}; the checkpoint is incomplete, pick "
                                  f"another")
    return folder.resolve()


def refuse_other_model(folder: Path, model: ModelConfig) -> None:
    """Refuse a checkpoint whose weights do not fit `model`, naming the modules that differ.

    Shapes come from model.safetensors' header and the model is built on
    `meta`, so a wrong checkpoint or profile costs milliseconds instead of
    the data reading and encoding that would come first otherwise.
    """
    from redheart.memory.dry_run import meta_model  # the model code: only when checking

    refuse_other_architecture(folder, shapes_of(meta_model(model).state_dict()),
                              saved_shapes(folder))
