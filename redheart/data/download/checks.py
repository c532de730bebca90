"""What `--pin` checks before it trusts a file it has no checksum for.

A checksum recorded from whatever a URL served would pin an HTML error
page or another data set just as firmly as the real file. So a new pin is
written only when the project's own readers (the code `prepare` runs) find
the file to be what the table says it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redheart.data.bad_rows import BadRows, DataError
from redheart.data.download.errors import DownloadError
from redheart.data.sources import goemotions, scruples


@dataclass(frozen=True)
class Checked:
    rows: int
    """Rows (or labels, or groups) the reader accepted."""
    skipped: int = 0
    """Rows `prepare` will refuse unless --skip-bad-rows is given."""

    def describe(self) -> str:
        skipped = f", {self.skipped} rows need --skip-bad-rows" if self.skipped else ""
        return f"{self.rows} rows{skipped}"


def check_file(kind: str, path: Path, url: str) -> Checked:
    """Read `path` (a `.part` beside its final name) as `kind`; refuse one that is not.

    GoEmotions TSVs are read with the emotions.txt and ekman_mapping.json
    already placed beside them (the table lists those first).
    """
    try:
        checked = _KINDS[kind](path)
    except (DataError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DownloadError(f"{url}: not the expected {kind} file ({exc}); nothing was "
                            f"pinned") from None
    if checked.rows == 0 or checked.skipped > checked.rows:
        raise DownloadError(f"{url}: not the expected {kind} file ({checked.rows} readable "
                            f"rows, {checked.skipped} unreadable); nothing was pinned")
    return checked


def _rows_of(read: Callable[[Path, BadRows], Iterator[Any]]) -> Callable[[Path], Checked]:
    """A check that counts the rows a source reader accepts and the rows it skips."""
    def check(path: Path) -> Checked:
        bad = BadRows(skip=True)
        return Checked(sum(1 for _ in read(path, bad)), bad.count)
    return check


def _labels(path: Path) -> Checked:
    return Checked(len(goemotions.read_label_names(path, path)))


def _ekman(path: Path) -> Checked:
    goemotions.check_ekman_mapping(path, path)
    return Checked(len(json.loads(path.read_text(encoding="utf-8"))))


def _json(path: Path) -> Checked:
    groups = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(groups, dict):
        raise DataError(f"{path}: expected a JSON object")
    return Checked(len(groups))


_KINDS = {"labels": _labels, "ekman": _ekman, "json": _json,
          "goemotions": _rows_of(goemotions.read),     # labels from beside the file
          "scruples_anecdotes": _rows_of(scruples.read_anecdotes),
          "scruples_dilemmas": _rows_of(scruples.read_dilemmas)}
