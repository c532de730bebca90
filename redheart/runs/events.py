"""Typed events in `events.jsonl`: one JSON object a line (DESIGN §6).

The writer flushes every line, so a reader (the console, `redheart events`,
a script) sees each event as soon as it happens; the tailer never returns a
half-written last line, so a reader racing the writer, or a file cut by a
crash, yields only whole events.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redheart.errors import RedHeartError

SCHEMA_VERSION = 1
EVENT_TYPES = ("run_started", "plan", "step", "memory", "eval", "checkpoint", "state",
               "warning", "error", "run_finished")


class EventWriter:
    """Appends events with `v`, `seq`, `t` and `type`; safe to call from several threads."""

    def __init__(self, path: Path, first_seq: int = 0) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._seq = first_seq

    @classmethod
    def resume(cls, path: Path) -> EventWriter:
        """Continue the numbering of an existing events file (a resumed run)."""
        last = -1
        for event in read_events(path):
            last = max(last, int(event.get("seq", -1)))
        return cls(path, last + 1)

    def emit(self, type_: str, **fields: Any) -> dict[str, Any]:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_!r}")
        with self._lock:
            event = {"v": SCHEMA_VERSION, "seq": self._seq, "t": round(time.time(), 3),
                     "type": type_, **fields}
            self._seq += 1
            self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
            self._file.flush()
        return event

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete event in the file (a trailing partial line is left out)."""
    tail = EventTail(path)
    yield from tail.poll()


class EventTail:
    """Incremental reader of a JSON-lines file: each `poll` returns the whole lines
    added since the last one (the events file, and the control channel's file)."""

    def __init__(self, path: Path, from_end: bool = False) -> None:
        self.path = path
        self._offset = path.stat().st_size if from_end and path.is_file() else 0
        self._pending = b""

    def poll(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        data = self._pending + data
        lines = data.split(b"\n")
        self._pending = lines.pop()          # b"" when the data ended with a newline
        events = []
        for line in lines:
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue                     # a line cut by a crash: the seq gap shows it
        return events


class EventsError(RedHeartError):
    """A run directory without an events file."""


def follow_events(run_dir: Path, follow: bool,
                  poll_s: float = 0.2) -> Iterator[dict[str, Any]]:
    """Every event of a run, then (with `follow`) new ones as they are written.

    Whole lines only, so a reader racing the writer never sees half an
    event. A jump in `seq` (lines cut by a crash or a full disk) is reported
    as a `{"type": "gap", "missing": "a-b"}` item before the next event.
    Following stops after `run_finished`.
    """
    path = run_dir / "events.jsonl"
    if not path.is_file():
        raise EventsError(f"{path}: no such file; is {run_dir} a run directory? (it is "
                          f"printed when `redheart run` starts)")
    tail = EventTail(path)
    expected: int | None = None
    while True:
        batch = tail.poll()
        for event in batch:
            seq = event.get("seq")
            if isinstance(seq, int):
                if expected is not None and seq > expected:
                    yield {"type": "gap", "missing": f"{expected}-{seq - 1}"}
                expected = seq + 1
            yield event
            if event.get("type") == "run_finished" and follow:
                return
        if not follow:
            return
        time.sleep(poll_s)
