"""What to tell a user whose data is missing: the command that gets it, or where to put it.

Both are derived from the pin table's layout, so a profile pointing at any
folder laid out like `../shared/data` gets a command with that folder as
`--to`, and the by-hand fallback names the same paths the download writes.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from redheart.data.download.pins import Entry, PinTable, load_pins
from redheart.errors import RedHeartError


def download_command(path: Path, table: PinTable | None = None) -> str | None:
    """`redheart data download NAME --to DIR` that would create `path`, or None when
    `path` is not a file of the download's layout (a user's own data)."""
    try:
        table = table or load_pins()
    except RedHeartError:      # a broken table must not hide the error being reported
        return None
    parts = Path(os.path.normpath(path)).parts
    for name, entries in table.datasets.items():
        for target in (t for entry in entries for t in entry.targets):
            depth = len(target.rel.parts)
            if parts[-depth:] == target.rel.parts:
                return (f"redheart data download {name} "
                        f"--to {shown_path(Path(*parts[:-depth]))}")
    return None


def missing_hint(path: Path) -> str:
    """'; get it with `COMMAND`' for a missing file the download lays out, else ''."""
    command = download_command(path)
    return f"; get it with `{command}`" if command else ""


def by_hand(entries: Sequence[Entry], root: Path) -> str:
    """Where each of `entries` goes when it is fetched some other way, as one line."""
    steps = []
    for entry in entries:
        if entry.unpack_into is None:
            steps.append(f"save {entry.url} as {root / entry.targets[0].rel}")
        else:
            members = ", ".join(str(t.member) for t in entry.targets)
            steps.append(f"unpack {entry.url} into {root / entry.unpack_into} ({members})")
    return "; ".join(steps)


def shown_path(folder: Path) -> str:
    """The folder as a shell word: relative to the working directory when that is
    shorter (`../shared/data`), so the command can be pasted as it is."""
    absolute = os.path.abspath(folder)
    relative = os.path.relpath(absolute)
    return shlex.quote(relative if len(relative) <= len(absolute) else absolute)
