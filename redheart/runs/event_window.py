"""The first and the last events of an `events.jsonl`, without reading what lies between.

A week-long run's events file reaches gigabytes (a step event a second,
a memory sample a second). Listing a hundred runs must not read them: what
a listing shows lives at the two ends (how the run began, where it is now,
how its newest launch ended), so each end is read as a bounded window of
bytes, and only whole lines inside it count.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redheart.runs.events import parse_lines
from redheart.units import MIB

HEAD_BYTES = 64 * 1024
"""The plan and run_started events of a launch are a few KiB each."""
HEAD_LIMIT = 4 * MIB
TAIL_BYTES = 64 * 1024
"""About 60 step events and their memory samples: a minute of a live run."""
TAIL_LIMIT = 4 * MIB
"""The most a tail grows to when what it looks for is not in the last TAIL_BYTES (a run
paused for hours has written only memory samples since its last step)."""

Events = list[dict[str, Any]]


def head_events(path: Path, last: Callable[[dict[str, Any]], bool],
                size: int = HEAD_BYTES, limit: int = HEAD_LIMIT) -> Events:
    """Whole events from the start of the file up to the first one for which `last`
    holds, read in growing windows until it is found, the window reaches `limit`, or
    the file ends (then every whole event read)."""
    with path.open("rb") as f:
        end = os.fstat(f.fileno()).st_size
        while True:
            f.seek(0)
            data = f.read(size)
            lines = data.split(b"\n")
            if len(data) < end:
                lines.pop()                     # cut by the window, not a whole line
            events = []
            for line in lines:                  # one at a time: the rest need no parsing
                events += parse_lines([line])
                if events and last(events[-1]):
                    return events
            if size >= min(limit, end):
                return events
            size *= 4


def tail_events(path: Path, until: Callable[[Events], bool],
                size: int = TAIL_BYTES, limit: int = TAIL_LIMIT) -> Events:
    """Whole events at the end of the file, read in growing windows until `until` holds
    for them, the window reaches `limit`, or the window holds the whole file.

    A last line still being written (or cut by a crash) is left out, as
    `EventTail` leaves it out.
    """
    with path.open("rb") as f:
        end = os.fstat(f.fileno()).st_size
        while True:
            start = max(0, end - size)
            f.seek(start)
            data = f.read(end - start)
            lines = data.split(b"\n")
            lines.pop()                         # b"" after a final newline, else a partial line
            if start > 0 and lines:
                lines.pop(0)                    # cut by the window, not a whole line
            events = parse_lines(lines)
            if until(events) or start == 0 or size >= limit:
                return events
            size *= 4
