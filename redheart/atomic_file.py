"""Files replaced whole or not at all.

Caches, pointers and configs are read by later runs; a crash or a full disk
in the middle of writing one must leave the old file (or none), never half
of the new one, which would turn the next run's read into a confusing parse
error instead of a clean cache miss or resume.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomically(path: Path, text: str, durable: bool = False) -> None:
    """Write `text` to a hidden temporary file beside `path`, then rename it over `path`.

    Processes that write the same file at once (ranks, or `prepare` next to a
    run on one cache) each rename a whole file of their own; the last one stays.

    `durable` fsyncs the data before the rename, for files whose loss after a
    power cut matters (checkpoint pointers); the rename alone already makes
    a crash of this process safe. A failed write removes the temporary file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")   # two writers never share one
    try:
        with tmp.open("w") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
