"""What hears rank 0's events besides events.jsonl: notifications ([notify]) and
TensorBoard ([logging]); a run with neither configured starts no thread and imports
neither apprise nor tensorboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redheart.config import Config
from redheart.runs.events import EventsWriteError, EventWriter


class EventSinks:
    """Listeners of one launch's events, attached to its writer; `close` before the
    writer's, so their last words (a failed notification) still reach the file."""

    def __init__(self, events: EventWriter, config: Config, run_dir: Path) -> None:
        self._events = events
        self._closed = False
        self._sinks: list[Any] = []
        if config.notify.urls and config.notify.on:
            from redheart.notify.sender import Notifier

            self._sinks.append(Notifier(config.notify, run_dir.name, self._warn))
        if config.logging.tensorboard:
            from redheart.runs.tensorboard_log import TensorBoardLog

            self._sinks.append(TensorBoardLog(run_dir / "tensorboard"))
        for sink in self._sinks:
            events.add_listener(sink)

    def _warn(self, message: str) -> None:
        """A sink's failure, as a warning event; silent once the launch has ended (the
        file is no longer this process's to write)."""
        if self._closed:
            return
        try:
            self._events.emit("warning", message=message)
        except EventsWriteError:
            pass

    def close(self) -> None:
        """Never raises: the run's own ending (the writer's close, the lock's release)
        comes after this."""
        for sink in self._sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - e.g. a full disk under tensorboard/
                self._warn(f"{sink.name}: could not be closed ({exc})")
        self._closed = True
