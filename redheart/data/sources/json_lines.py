"""One JSON object a line, as both Scruples files and the project's JSONL store rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redheart.data.bad_rows import BadRows


def json_objects(path: Path, bad: BadRows) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`path:line`, object) for each non-blank line; bad lines go to `bad`."""
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                row = json.loads(line.strip())
            except json.JSONDecodeError as exc:
                bad.reject(where, f"invalid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(row, dict):
                bad.reject(where, "expected a JSON object")
                continue
            yield where, row
