"""Line numbers of keys in profile text.

tomllib returns plain dicts without positions, yet a user fixing a profile
wants `file:line`. A light scan of the text, tracking `[table]` and
`[[array]]` headers, is enough for the flat profiles we write.
"""

from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")
_ERROR_LINE = re.compile(r"^(.*?)\s*\(at line (\d+), column \d+\)\s*$")


class KeyLines:
    """Maps (table path, array index, key) to the 1-based line that sets it."""

    def __init__(self, text: str) -> None:
        self._keys: dict[tuple[tuple[str, ...], int | None, str], int] = {}
        self._sections: dict[str, int] = {}
        path: tuple[str, ...] = ()
        index: int | None = None
        array_counts: dict[tuple[str, ...], int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                path = tuple(header.group(2).split("."))
                if header.group(1) == "[[":
                    index = array_counts.get(path, 0)
                    array_counts[path] = index + 1
                else:
                    index = None
                self._sections.setdefault(path[0], number)
                continue
            key = _KEY.match(line)
            if key:
                self._keys.setdefault((path, index, key.group(1)), number)

    def key_line(self, path: tuple[str, ...], index: int | None, key: str) -> int | None:
        """Line of `key` inside the table at `path` (None when written another way)."""
        return self._keys.get((path, index, key))

    def section_line(self, name: str) -> int | None:
        """Line of the first header of section `name`."""
        return self._sections.get(name)

    @staticmethod
    def syntax_error_location(exc: Exception) -> tuple[int | None, str]:
        """Split tomllib's "reason (at line L, column C)" into (L, reason)."""
        lineno = getattr(exc, "lineno", None)
        message = str(exc)
        match = _ERROR_LINE.match(message)
        if match:
            return (lineno or int(match.group(2))), match.group(1)
        return lineno, message


def key_location(profile: str, path: tuple[str, ...], index: int | None, key: str) -> str:
    """`file:line` of a key, for errors found after the profile was parsed.

    A missing data file is only found when the data is read, long after the
    text (and its line numbers) were dropped; reading it again is cheap.
    The bare profile name when the key is not written in the file (a default,
    a profile built in code).
    """
    try:
        text = Path(profile).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return profile
    line = KeyLines(text).key_line(path, index, key)
    return f"{profile}:{line}" if line else profile
