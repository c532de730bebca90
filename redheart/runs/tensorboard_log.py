"""TensorBoard event files of a run's scalars: written while it trains ([logging]
tensorboard) and by `redheart export-metrics --tensorboard` from its events.jsonl.

Both are this one listener fed the same events, so a live log and an
exported one hold the same scalars. It uses TensorBoard's own event-file
writer (the one torch's SummaryWriter wraps), which needs no torch: an
export is instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from redheart.runs.scalars import ScalarStream

FLUSH_S = 10
"""A live TensorBoard shows new points within this many seconds."""


class TensorBoardLog:
    """Event listener writing scalars under `logdir` (created at the first one).

    A resumed launch restarts at its checkpoint's step S and logs from S+1;
    the steps from S+1 on that the killed launch had logged are marked as
    abandoned (a session start at S+1, as SummaryWriter's purge_step does), so
    TensorBoard draws one curve, not a loop back. TensorBoard drops every
    earlier point at or after the marker's step, so the marker goes at S+1,
    not S: step S's own scalars (its eval, which the checkpoint holds) stay.
    Every launch writes it: one restarted from step 0 (killed before its first
    checkpoint) abandons all the earlier steps, and on a first launch it
    drops nothing.
    """

    name = "tensorboard"

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self._stream = ScalarStream()
        self._writer: Any = None
        self.written = 0

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("type") == "run_started":
            self._write(Event(wall_time=event.get("t") or 0.0, step=(event.get("step") or 0) + 1,
                              session_log=SessionLog(status=SessionLog.START)))
        for scalar in self._stream.scalars(event):
            self._write(Event(wall_time=scalar.wall_time, step=scalar.step, summary=Summary(
                value=[Summary.Value(tag=scalar.tag, simple_value=scalar.value)])))
            self.written += 1

    def _write(self, event: Any) -> None:
        if self._writer is None:
            self.logdir.mkdir(parents=True, exist_ok=True)
            self._writer = EventFileWriter(str(self.logdir), flush_secs=FLUSH_S)
        self._writer.add_event(event)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
