"""Which rows a checkpoint's data position points into, so a resume onto other rows is refused.

A checkpoint's data position is an epoch and an index into that epoch's
batch plan, and the plan is built from the sources' rows in order. The
profile check (`runs/config_change.py`) refuses a changed path, limit or
split, but not a data file whose rows changed under the same path: the
resumed run then went on silently at a position in other rows (a
shortened file ended the epoch early), and picked `best` by comparing eval
losses over two different evaluation sets. Each checkpoint now records, per
source and split, how many rows it trained on and a digest of their texts
in order; `--resume` compares them before any weights are loaded. Labels are
not digested: the position depends on the texts' order, and a relabelling
fix may want to resume.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redheart.data.sources import SourceData
from redheart.runs.checkpoints import CheckpointError


def data_digest(train: list[SourceData], evaluation: list[SourceData]) -> list[dict[str, Any]]:
    """One entry per source and split: its path as the profile names it, rows, digest."""
    entries = []
    for split, sources in (("train", train), ("eval", evaluation)):
        for data in sources:
            digest = hashlib.blake2b(digest_size=8)
            for text in data.texts():
                digest.update(text.encode())
                digest.update(b"\n\0")
            entries.append({"split": split, "source": data.source.path,
                            "rows": len(data.examples) + len(data.pairs),
                            "digest": digest.hexdigest()})
    return entries


def refuse_changed_data(checkpoint: Any, saved: list[dict[str, Any]] | None,
                        now: list[dict[str, Any]]) -> None:
    """One line naming the first source whose rows differ; a checkpoint written before
    digests were recorded (`saved` None) is accepted as before."""
    if saved is None or saved == now:
        return
    then = {(e.get("split"), e.get("source")): e for e in saved}
    for entry in now:
        old = then.get((entry["split"], entry["source"]))
        if old is None or old.get("digest") != entry["digest"]:
            was = f"{old.get('rows')} rows then" if old else "not in it then"
            changed = (f"{entry['source']} ({entry['split']}): {was}, {entry['rows']} now"
                       + (", other texts" if old and old.get("rows") == entry["rows"] else ""))
            break
    else:
        changed = "a source it trained on is gone: " + ", ".join(
            sorted({str(e.get("source")) for e in saved} - {e["source"] for e in now}))
    raise CheckpointError(f"{checkpoint}: the training data changed since it was written "
                          f"({changed}); its data position would point into other rows; "
                          f"restore the data, or start a new run from its weights with "
                          f"--set train.init_from={checkpoint}")
