"""`redheart data download`: fetch, verify, place; nothing unverified under a final name.

Per URL: grow `<name>.part` (resumable), hash it whole, and only when the
size and sha256 are the pin's rename it into place (or unpack its members,
each through its own `.part`). A data set whose files are all present with
their pinned sizes costs one `stat` per file and no request.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from redheart.data.download.checks import check_file
from redheart.data.download.errors import DownloadError
from redheart.data.download.hint import by_hand, shown_path
from redheart.data.download.http import ByteProgress, FetchFailed, fetch
from redheart.data.download.pins import Entry, PinTable, Target, part_of, save_pin
from redheart.data.download.unpack import unpack
from redheart.data.download.verify import verify
from redheart.errors import RedHeartError


class Reporter(ByteProgress, Protocol):
    """What the command shows; `start`/`advance` (bytes) come between begin and placed."""

    def begin(self, label: str, url: str) -> None: ...
    def placed(self, label: str, size: int, sha256: str) -> None: ...
    def pinned(self, label: str, size: int, sha256: str, checked: list[str]) -> None: ...
    def finished(self, name: str, root: Path, fetched: int, present: int) -> None: ...


def download(names: Sequence[str], root: Path, table: PinTable, reporter: Reporter,
             force: bool = False, pin: bool = False) -> None:
    """Lay out the named data sets (all when none is named) under `root`.

    Entries with a pin are fetched and verified; entries without one are
    fetched only with `pin`, checked by the project's readers, and their
    measured pin is written into the table. The refusal of unpinned entries
    comes after everything that could be verified is in place, so one
    unpinned file never costs the others.
    """
    unknown = [n for n in names if n not in table.datasets]
    if unknown:
        raise RedHeartError(f"unknown data set '{unknown[0]}'; choose from "
                            f"{', '.join(table.datasets)}")
    unpinned: list[tuple[str, Entry]] = []
    for name in names or list(table.datasets):
        entries = table.datasets[name]
        todo = [e for e in entries if force or not _in_place(root, e)]
        fetchable = [e for e in todo if e.pinned or pin]
        _refuse_foreign(fetchable, root, force)
        unpinned += [(name, e) for e in todo if e not in fetchable]
        for index, entry in enumerate(fetchable):
            try:
                _fetch_entry(entry, root, table, reporter)
            except FetchFailed as exc:
                missing = fetchable[index:] + [e for e in todo if e not in fetchable]
                raise DownloadError(f"download failed: {exc.url}: {exc.reason}; to place the "
                                    f"files by hand: {by_hand(missing, root)}") from None
        reporter.finished(name, root, len(fetchable), len(entries) - len(todo))
    if unpinned:
        urls = ", ".join(entry.url for _, entry in unpinned)
        names_ = " ".join(dict.fromkeys(name for name, _ in unpinned))
        raise DownloadError(f"no pinned checksum yet for {urls}; to check their structure and "
                            f"record their size and sha256 in {table.path}, run: redheart data "
                            f"download {names_} --to {shown_path(root)} --pin (then commit the "
                            f"pins)")


def _state(root: Path, target: Target) -> str:
    """'missing'; 'present' (the pinned size); 'unverified' (there, but nothing is pinned
    to check it against: placed by hand); or 'other' (there, and not the pinned file)."""
    path = root / target.rel
    if not path.is_file():
        return "missing"
    if target.size is None:
        return "unverified"
    return "present" if path.stat().st_size == target.size else "other"


def _in_place(root: Path, entry: Entry) -> bool:
    """Every file of `entry` is there: with its pinned size, or (no pin yet) at all."""
    return all(_state(root, t) in ("present", "unverified") for t in entry.targets)


def _refuse_foreign(todo: list[Entry], root: Path, force: bool) -> None:
    """Never replace a file the user has that the pin cannot vouch for, unless told to."""
    if force:
        return
    for target in (t for entry in todo for t in entry.targets):
        if _state(root, target) in ("other", "unverified"):
            pinned = f"{target.size} bytes" if target.size is not None else "not pinned yet"
            raise RedHeartError(f"{root / target.rel} exists but is not the pinned file "
                                f"({(root / target.rel).stat().st_size} bytes; pinned: "
                                f"{pinned}); pass --force to replace it with the download")


def _fetch_entry(entry: Entry, root: Path, table: PinTable, reporter: Reporter) -> None:
    part = root / entry.part
    reporter.begin(entry.label, entry.url)
    fetch(entry.url, part, entry.size, reporter)
    size, sha = verify(entry, part)
    parts = [part] if entry.unpack_into is None else [part_of(root / t.rel)
                                                        for t in entry.targets]
    try:
        if entry.unpack_into is not None:
            unpack(part, entry.url, root, entry.targets)
        checked = [] if entry.pinned else [_check(t, p, entry.url)
                                           for t, p in zip(entry.targets, parts, strict=True)]
    except DownloadError:
        for p in {part, *parts}:
            p.unlink(missing_ok=True)
        raise
    member_sizes = ({} if entry.unpack_into is None
                    else {str(t.member): p.stat().st_size
                          for t, p in zip(entry.targets, parts, strict=True)})
    if not entry.pinned:     # recorded before the files take their names: a placed file
        _save_pin(table, entry, size, sha, member_sizes)       # always has its pin
        reporter.pinned(entry.label, size, sha, checked)
    for target, p in zip(entry.targets, parts, strict=True):
        os.replace(p, root / target.rel)
    part.unlink(missing_ok=True)          # the archive, once its members are in place
    reporter.placed(entry.label, size, sha)


def _save_pin(table: PinTable, entry: Entry, size: int, sha: str,
              member_sizes: dict[str, int]) -> None:
    try:
        save_pin(table.path, entry.url, size, sha, member_sizes)
    except OSError as exc:
        raise DownloadError(f"cannot record the pin of {entry.url} in {table.path} ({exc}); "
                            f"nothing was placed") from None


def _check(target: Target, part: Path, url: str) -> str:
    return f"{target.rel}: {check_file(target.check, part, url).describe()}"
