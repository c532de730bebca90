"""Resumable HTTP download into a `.part` file (stdlib only).

Data sets are tens of megabytes fetched over links that drop: what arrived
is kept in the `.part` file and the next attempt (in this call, or the next
call) asks only for the rest with an HTTP Range request. A server that
ignores the range answers 200 and the file restarts from byte 0; nothing is
ever appended to bytes of another version.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

from redheart.units import MIB

CHUNK = MIB
TIMEOUT_S = 30.0
ATTEMPTS = 5
"""Connections one file may use in one call: a link that keeps dropping still ends."""

_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


class FetchFailed(Exception):
    """The URL could not be fetched whole; `reason` is short and fits one line."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class ByteProgress(Protocol):
    def start(self, total: int | None, done: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...


class _Cut(Exception):
    """The connection ended before the last byte; the next attempt resumes."""


def fetch(url: str, part: Path, size: int | None, progress: ByteProgress) -> None:
    """Grow `part` until it holds the whole file at `url` (`size` bytes when pinned).

    A `.part` already as long as the pin is not fetched again: its checksum
    decides. One longer than the pin cannot be this file and starts over.
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, ATTEMPTS + 1):
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have > size:
            part.unlink()
            have = 0
        if size is not None and have == size:
            progress.start(size, size)
            return
        try:
            _attempt(url, part, have, progress)
            return
        except _Cut as exc:
            if attempt == ATTEMPTS:
                raise FetchFailed(url, f"connection dropped {ATTEMPTS} times ({exc}); "
                                       f"run the command again to resume") from None


def _attempt(url: str, part: Path, have: int, progress: ByteProgress) -> None:
    headers = {"User-Agent": "redheart-data-download"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                          timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:     # asked past the end: the part is whole, or foreign
            total = (exc.headers.get("Content-Range") or "").rpartition("/")[2]
            if total == str(have):
                progress.start(have, have)
                return
            part.unlink()
            raise _Cut("the server refused to resume; starting over") from None
        raise FetchFailed(url, f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise FetchFailed(url, f"unreachable ({reason})") from None
    with response:
        offset = _offset(response, have)
        if offset is None:
            part.unlink()
            raise _Cut("the server resumed at another offset; starting over")
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        progress.start(None if expected is None else offset + expected, offset)
        received = 0
        with part.open("r+b" if offset else "wb") as out:
            out.seek(offset)
            out.truncate()
            while chunk := _read(response):
                out.write(chunk)
                received += len(chunk)
                progress.advance(len(chunk))
        if expected is not None and received < expected:
            raise _Cut(f"{offset + received} of {offset + expected} bytes")


def _read(response: http.client.HTTPResponse) -> bytes:
    """The next chunk; a reset, a timeout or a broken chunk is a cut, not a failure."""
    try:
        return response.read(CHUNK)
    except (http.client.HTTPException, OSError) as exc:
        raise _Cut(type(exc).__name__) from None


def _offset(response: http.client.HTTPResponse, have: int) -> int | None:
    """Where the body starts in the file: 0 for a 200 (a restart), `have` for a
    matching 206, None for a 206 that starts anywhere else."""
    if response.status != 206:
        return 0
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range") or "")
    return have if match is not None and int(match.group(1)) == have else None
