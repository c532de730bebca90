"""The pin table: what each data set is made of, where it goes, and what it must hash to.

It is data (`pins.json`), not code, so that `--pin` can record a measured
checksum in the project with no edit by hand, and a reviewer sees a pin
change as a one-line diff.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from redheart.atomic_file import write_text_atomically
from redheart.errors import RedHeartError

DEFAULT_PINS = Path(__file__).resolve().with_name("pins.json")

PROJECT_DIR = Path(__file__).resolve().parents[3]
DEFAULT_ROOT = PROJECT_DIR.parent / "shared" / "data"
"""`../shared/data` beside the project: the folder the shipped real-data profiles read
(their paths are `../../shared/data/...`, relative to `profiles/`)."""

CHECKS = ("labels", "ekman", "json", "goemotions", "scruples_anecdotes", "scruples_dilemmas")
"""How `--pin` checks a file's structure (see checks.py)."""

PathT = TypeVar("PathT", Path, PurePosixPath)

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Target:
    """One file the download leaves on disk: a plain download, or one archive member."""

    rel: PurePosixPath
    """Where it goes, relative to the data folder (--to)."""
    size: int | None
    check: str
    member: str | None = None
    """Its name inside the archive; None for a plain download."""


@dataclass(frozen=True)
class Entry:
    """One URL: a file saved as is, or an archive whose members are unpacked."""

    url: str
    size: int | None
    sha256: str | None
    targets: tuple[Target, ...]
    unpack_into: PurePosixPath | None = None

    @property
    def pinned(self) -> bool:
        return self.size is not None and self.sha256 is not None

    @property
    def label(self) -> str:
        """How progress names it: the file it becomes, or the archive's own name."""
        if self.unpack_into is None:
            return str(self.targets[0].rel)
        return self.url.rsplit("/", 1)[-1]

    @property
    def part(self) -> PurePosixPath:
        """Where the download grows (relative to the data folder) until it is verified."""
        if self.unpack_into is None:
            return part_of(self.targets[0].rel)
        return part_of(self.unpack_into / self.label)


def part_of(path: PathT) -> PathT:
    """The temporary name a file has until it is whole and verified."""
    return path.with_name(path.name + ".part")


@dataclass(frozen=True)
class PinTable:
    path: Path
    datasets: dict[str, tuple[Entry, ...]]


def load_pins(path: Path = DEFAULT_PINS) -> PinTable:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RedHeartError(f"{path}: cannot read the pin table ({exc})") from None
    datasets = {name: tuple(_entry(path, f"{name}.files[{i}]", item)
                            for i, item in enumerate(spec["files"]))
                for name, spec in raw.items() if not name.startswith("_")}
    return PinTable(path, datasets)


def _entry(path: Path, where: str, item: dict[str, Any]) -> Entry:
    url = item.get("url")
    if not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        raise RedHeartError(f"{path}: {where}.url: expected an http(s) URL, got {url!r}")
    size, sha = _size(path, where, item.get("size")), item.get("sha256")
    if sha is not None and not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
        raise RedHeartError(f"{path}: {where}.sha256: expected 64 lowercase hex digits or null")
    if "unpack_into" not in item:
        target = Target(_relative(path, f"{where}.to", item.get("to")), size,
                        _check(path, where, item.get("check")))
        return Entry(url, size, sha, (target,))
    into = _relative(path, f"{where}.unpack_into", item["unpack_into"])
    targets = tuple(
        Target(into / _relative(path, f"{where}.members[{j}].name", m.get("name")),
               _size(path, f"{where}.members[{j}]", m.get("size")),
               _check(path, f"{where}.members[{j}]", m.get("check")), member=m["name"])
        for j, m in enumerate(item["members"]))
    return Entry(url, size, sha, targets, into)


def _relative(path: Path, where: str, value: Any) -> PurePosixPath:
    """A path inside the data folder: the table decides where files land, never a server."""
    rel = PurePosixPath(value) if isinstance(value, str) and value else None
    if rel is None or rel.is_absolute() or ".." in rel.parts:
        raise RedHeartError(f"{path}: {where}: expected a relative path inside the data "
                            f"folder, got {value!r}")
    return rel


def _size(path: Path, where: str, value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise RedHeartError(f"{path}: {where}.size: expected a byte count or null")
    return value


def _check(path: Path, where: str, value: Any) -> str:
    if value not in CHECKS:
        raise RedHeartError(f"{path}: {where}.check: expected one of {', '.join(CHECKS)}")
    return value


def save_pin(path: Path, url: str, size: int, sha256: str,
             member_sizes: dict[str, int]) -> None:
    """Write a measured pin (and its members' sizes) into the table, keeping the rest as is."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    for name, spec in raw.items():
        if name.startswith("_"):
            continue
        for item in spec["files"]:
            if item["url"] == url:
                item["size"], item["sha256"] = size, sha256
                for member in item.get("members", ()):
                    member["size"] = member_sizes[member["name"]]
    write_text_atomically(path, json.dumps(raw, indent=2, ensure_ascii=False) + "\n")
