"""Finding the newest complete checkpoint after a crash, and clearing what a crash left.

A checkpoint folder only ever appears under its `step-NNNNNNNN` name by an
atomic rename of a finished, fsynced temporary folder, and leaves it by a
rename back to a temporary name before it is deleted. So every `step-*`
folder is complete, and everything a killed writer left behind is named
`.tmp-*`. The `last` pointer is moved right after the rename; a kill between
the two leaves it one checkpoint behind, so `last` is resolved from the
folders' write order (`order` in state.json), not from the pointer alone.
`best` is moved after `last`; state.json's `best` says the folder was
written as the new best, so a kill before that pointer moved is repaired
once the directory is next locked (`repair_best_pointer`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from redheart.atomic_file import write_text_atomically

TMP_PREFIX = ".tmp-"
"""Folders (and pointer files) that are being written or deleted."""
REPLACED_PREFIX = f"{TMP_PREFIX}old-"
"""A whole `step-*` folder set aside while a resumed run writes the same step again
(`checkpoints._rename_into_place`): put back if a kill came before the new one was in place."""


def checkpoint_name(step: int) -> str:
    """`step-NNNNNNNN`: the folder a step's checkpoint is renamed to once complete."""
    return f"step-{step:08d}"


def remove_partial_checkpoints(root: Path) -> list[str]:
    """Delete temporary checkpoint folders and pointer files a killed run left in `root`;
    put back a folder set aside for a rewrite of its step that never got in place.

    Only call with the run directory's lock held: then no writer is alive.
    Returns the names removed.
    """
    removed = []
    if not root.is_dir():
        return removed
    for path in sorted(root.iterdir()):
        if path.name.startswith(REPLACED_PREFIX) and path.is_dir():
            original = root / path.name[len(REPLACED_PREFIX):].rsplit("-", 1)[0]
            if not original.exists():       # the new one never got in place: keep the old
                os.rename(path, original)
                continue
        if path.name.startswith(TMP_PREFIX) or (path.name.startswith((".last.", ".best."))
                                                and path.name.endswith(".tmp")):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def remove_folder(path: Path) -> None:
    """Delete a checkpoint folder so that a kill midway never leaves a partial `step-*`."""
    doomed = path.with_name(f"{TMP_PREFIX}del-{path.name}-{os.getpid()}")
    os.rename(path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def read_meta(folder: Path) -> dict | None:
    """The folder's state.json, or None when it is not a readable checkpoint."""
    try:
        meta = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def complete_folders(root: Path) -> dict[str, dict]:
    """name -> state.json of every complete checkpoint folder in `root`."""
    found = {}
    for folder in sorted(root.glob("step-*")) if root.is_dir() else []:
        meta = read_meta(folder)
        if meta is not None and (folder / "model.safetensors").is_file():
            found[folder.name] = meta
    return found


def newer_damaged(root: Path, chosen: Path | None) -> list[str]:
    """`step-*` folders past `chosen` (None: any) that are not complete checkpoints.

    Every `step-*` folder was whole when it was renamed into place, so one that
    is not was damaged since (a disk error, a file removed by hand). `--resume
    last` goes back to the newest whole one; these are what it passed over, which
    the run says in a warning rather than redoing their steps without a word.
    """
    if not root.is_dir():
        return []
    complete = complete_folders(root)
    return sorted(p.name for p in root.glob("step-*") if p.is_dir() and p.name not in complete
                  and (chosen is None or p.name > chosen.name))


def next_order(root: Path) -> int:
    """Write order for the next checkpoint: one more than any complete folder's."""
    orders = [m.get("order", 0) for m in complete_folders(root).values()]
    return max(orders, default=0) + 1


def newest_complete(root: Path, pointer: str | None) -> str | None:
    """The last-written complete checkpoint folder's name.

    Without `order` (folders written by an earlier version) the `last`
    pointer decides, and if it names no complete folder, the highest step.
    """
    folders = complete_folders(root)
    ordered = {name: meta["order"] for name, meta in folders.items()
               if isinstance(meta.get("order"), int)}
    if ordered:
        return max(ordered, key=ordered.__getitem__)
    if pointer in folders:
        return pointer
    return max(folders, default=None)


def repair_best_pointer(root: Path) -> str | None:
    """Point `best` at the newest folder written as the new best, when a kill beat the pointer.

    Without this, a run killed between a best checkpoint's rename and its
    `best` pointer resumed believing in that best loss (state.json keeps it)
    while `best` named an older folder or none: no later eval beat the
    loss, the pointer never moved, and `keep_last` pruned the real best.
    Only call with the run directory's lock held. Returns the folder's name
    when the pointer was moved.
    """
    folders = complete_folders(root)
    written_best = {name: meta["order"] for name, meta in folders.items()
                    if meta.get("best") is True and isinstance(meta.get("order"), int)}
    if not written_best:
        return None
    newest = max(written_best, key=written_best.__getitem__)
    path = root / "best"
    try:                                # a garbled pointer is one a kill left: rewritten
        current = path.read_text().strip() if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        current = None
    order = folders.get(current, {}).get("order") if current is not None else None
    if isinstance(order, int) and order >= written_best[newest]:
        return None
    write_text_atomically(path, newest + "\n", durable=True)
    return newest
