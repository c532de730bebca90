"""Lines of a UTF-8 data file, and one JSON object a line, as both Scruples files and the
project's JSONL store rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redheart.data.bad_rows import BadRows


def text_lines(path: Path, bad: BadRows) -> Iterator[tuple[str, str]]:
    """(`path:line`, line without its end) for each non-blank line of a UTF-8 file.

    Decoded a line at a time, so a line in another encoding (Latin-1 from a
    spreadsheet) is a bad row naming its line and byte, which `skip_bad_rows`
    can skip, not a decoding traceback; a leading byte-order mark is dropped.
    """
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                bad.reject(where, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                                  f"{exc.start + 1}); save the file as UTF-8")
                continue
            if number == 1:
                line = line.removeprefix("\ufeff")
            if line.strip():
                yield where, line


def json_objects(path: Path, bad: BadRows) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`path:line`, object) for each non-blank line; bad lines go to `bad`."""
    for where, line in text_lines(path, bad):
        try:
            row = json.loads(line.strip())
        except json.JSONDecodeError as exc:
            bad.reject(where, f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(row, dict):
            bad.reject(where, "expected a JSON object")
            continue
        yield where, row
