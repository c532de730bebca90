"""Size and sha256 of a downloaded file, and the one-line refusal when they are not the pin."""

from __future__ import annotations

import hashlib
from pathlib import Path

from redheart.data.download.errors import DownloadError
from redheart.data.download.pins import Entry
from redheart.units import MIB

CHUNK = MIB


def measure(path: Path) -> tuple[int, str]:
    """(size, sha256) of the bytes on disk: a resumed file is hashed whole, never by parts."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def verify(entry: Entry, part: Path) -> tuple[int, str]:
    """The measured pin of `part`; a pinned entry that differs is deleted and refused."""
    size, sha = measure(part)
    if entry.pinned and (size, sha) != (entry.size, entry.sha256):
        part.unlink()
        raise DownloadError(f"checksum mismatch for {entry.url}: got {size} bytes, sha256 "
                            f"{sha}; expected {entry.size} bytes, sha256 {entry.sha256}; "
                            f"the file was not kept")
    return size, sha
