"""Typed events in `events.jsonl`: one JSON object a line (architecture.md §4).

The writer writes every line with one `write` call, so a reader (the console,
`redheart events`, a script) sees each event as soon as it happens; the
tailer never returns a half-written last line, so a reader racing the
writer, or a file cut by a crash, yields only whole events.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from redheart.errors import RedHeartError

SCHEMA_VERSION = 1
Listener = Callable[[dict[str, Any]], None]

EVENT_TYPES = ("run_started", "plan", "step", "memory", "eval", "checkpoint", "state",
               "warning", "error", "run_finished")


class EventsWriteError(RedHeartError):
    """events.jsonl cannot be written (a full disk, a read-only or removed directory).

    A removed file is found by its link count: writing to it still succeeds, so
    before that check a run whose directory was deleted trained on with its
    events going nowhere and recreated `checkpoints/` for them.

    Training stops (exit 1): a run nobody can follow or resume from its
    events is not worth continuing blind.
    """

    exit_code = 1


class EventWriter:
    """Appends events with `v`, `seq`, `t` and `type`; safe to call from several threads.

    The file is opened at the first event, so creating a writer writes
    nothing. A failed write is undone (no half line is left for the next
    event to run into), raises `EventsWriteError`, and every later `emit`
    raises it again: the run ends instead of losing events silently.
    """

    def __init__(self, path: Path, first_seq: int = 0, cut_line: bool = False) -> None:
        self.path = path
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._seq = first_seq
        self._cut_line = cut_line
        self._failure: str | None = None
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Hear every event once it is written (notifications, TensorBoard): the one place
        where the training process's events leave it other than by the file.

        A listener runs in the emitting thread, outside the writer's lock (so it
        may emit), and must return quickly. One that raises is dropped, with a
        `warning` event naming it: a broken copy of the metrics never stops
        training.
        """
        self._listeners.append(listener)

    @classmethod
    def resume(cls, path: Path) -> EventWriter:
        """Continue the numbering of an existing events file (a resumed run).

        A last line cut by a crash is ended, so it cannot swallow the next
        event, and its seq number is skipped, so readers see the gap. A line
        whose seq is not a number (one a script appended) does not count.
        """
        tail = EventTail(path)
        last = max((e["seq"] for e in tail.poll()
                    if isinstance(e.get("seq"), int) and not isinstance(e["seq"], bool)),
                   default=-1)
        cut = tail.has_partial_line
        return cls(path, last + 1 + int(cut), cut_line=cut)

    def emit(self, type_: str, **fields: Any) -> dict[str, Any]:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_!r}")
        with self._lock:
            event = {"v": SCHEMA_VERSION, "seq": self._seq, "t": round(time.time(), 3),
                     "type": type_, **fields}
            line = json.dumps(event, separators=(",", ":")) + "\n"
            self._write(("\n" if self._cut_line else "") + line)
            self._cut_line = False
            self._seq += 1
        failed = []
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as exc:  # noqa: BLE001 - any failure of a copy, never training's
                failed.append((listener, exc))
        for listener, exc in failed:      # after every listener heard this event, in order
            if listener in self._listeners:   # (another thread may have dropped it)
                self._listeners.remove(listener)
                name = getattr(listener, "name", None) or getattr(listener, "__name__", "")
                self.emit("warning", message=f"{name or type(listener).__name__}: stopped "
                                             f"after an error ({exc})")
        return event

    def _write(self, text: str) -> None:
        if self._failure is not None:
            raise EventsWriteError(self._failure)
        end = None
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT |
                                   os.O_CLOEXEC, 0o600)
            status = os.fstat(self._fd)
            end = status.st_size
            if status.st_nlink == 0:     # deleted under the run: writes would go nowhere
                self._failure = (f"{self.path}: deleted while the run was writing it (was "
                                 f"its run directory removed?); the run stopped rather than "
                                 f"train without a record; continue with --resume last if "
                                 f"its checkpoints are still there, else start it again")
                raise EventsWriteError(self._failure)
            data = memoryview(text.encode())
            while data:
                data = data[os.write(self._fd, data):]
        except OSError as exc:
            if end is not None:
                try:
                    os.ftruncate(self._fd, end)
                except OSError:
                    pass
            self._failure = (f"{self.path}: cannot write events ({exc.strerror or exc}); free "
                             f"disk space or fix the run directory, then continue with "
                             f"--resume last")
            raise EventsWriteError(self._failure) from None

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete event in the file (a trailing partial line is left out)."""
    tail = EventTail(path)
    yield from tail.poll()


def stream_events(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete event, a line at a time: a file of gigabytes in little memory."""
    with path.open("rb") as f:
        for line in f:
            if line.endswith(b"\n"):            # not a last line cut mid-write
                yield from parse_lines([line])


class EventTail:
    """Incremental reader of a JSON-lines file: each `poll` returns the whole lines
    added since the last one (the events file, and the control channel's file)."""

    def __init__(self, path: Path, from_end: bool = False) -> None:
        self.path = path
        self._offset = path.stat().st_size if from_end and path.is_file() else 0
        self._pending = b""

    @property
    def has_partial_line(self) -> bool:
        """The last poll ended inside a line (a writer mid-line, or a line cut by a crash)."""
        return bool(self._pending)

    def poll(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open("rb") as f:
            if os.fstat(f.fileno()).st_size < self._offset:
                # A failed write was undone: drop what was read of it, carry on at the end.
                self._offset, self._pending = os.fstat(f.fileno()).st_size, b""
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        data = self._pending + data
        lines = data.split(b"\n")
        self._pending = lines.pop()          # b"" when the data ended with a newline
        return parse_lines(lines)


def parse_lines(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """The events among whole lines: a line cut by a crash, or stray bytes, is skipped
    (the seq gap shows it), so one bad line never hides the others."""
    events = []
    for line in lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(event, dict):      # (zeroed or stray bytes can parse as a number)
            events.append(event)
    return events


class EventsError(RedHeartError):
    """A run directory without an events file."""


class SeqGaps:
    """Spots events lost between the ones read: every event's `seq` is one more than
    the last, so a jump means lines were cut (a crash) or refused (a full disk)."""

    def __init__(self) -> None:
        self.expected: int | None = None

    def see(self, event: dict[str, Any]) -> str | None:
        """The missing range "a-b" just before `event`, if any."""
        seq = event.get("seq")
        if not isinstance(seq, int):
            return None
        missing = (f"{self.expected}-{seq - 1}"
                   if self.expected is not None and seq > self.expected else None)
        self.expected = seq + 1
        return missing


def follow_events(run_dir: Path, follow: bool,
                  poll_s: float = 0.2) -> Iterator[dict[str, Any]]:
    """Every event of a run, then (with `follow`) new ones as they are written.

    Whole lines only, so a reader racing the writer never sees half an
    event. A jump in `seq` (lines cut by a crash or a full disk) is reported
    as a `{"type": "gap", "missing": "a-b"}` item before the next event.
    Following stops when the run is no longer live (its lock is free): after
    its newest launch's `run_finished` or `error`, or, when it died without a
    word, after a `{"type": "killed", ...}` item (runs/liveness.py). Not at
    the first `run_finished` read: a resumed run's file holds one per earlier
    launch, and a follower that stopped there showed a live run as ended.
    """
    from redheart.runs.liveness import EndWatch

    path = run_dir / "events.jsonl"
    if not path.is_file():
        raise EventsError(f"{path}: no such file; is {run_dir} a run directory? (it is "
                          f"printed when `redheart run` starts)")
    tail = EventTail(path)
    gaps = SeqGaps()
    watch = EndWatch(run_dir)
    while True:
        batch = tail.poll()
        for event in batch:
            if missing := gaps.see(event):
                yield {"type": "gap", "missing": missing}
            yield event
        if not follow:
            return
        watch.see(batch)
        said_end = any(event.get("type") == "run_finished" for event in batch)
        if ended := watch.ended(at_once=said_end):
            if ended == "killed":
                yield watch.killed_event()
            return
        time.sleep(poll_s)
