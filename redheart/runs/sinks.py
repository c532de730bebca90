"""What hears rank 0's events besides events.jsonl: notifications ([notify]) and
TensorBoard ([logging]); a run with neither configured starts no thread and imports
neither apprise nor tensorboard."""

from __future__ import annotations

from collections.abc import Callable
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
            self._open("notify", lambda: _notifier(config, run_dir, self._warn))
        if config.logging.tensorboard:
            self._open("tensorboard", lambda: _tensorboard(run_dir))

    def _open(self, name: str, make: Callable[[], Any]) -> None:
        """Attach one sink; one that cannot start is a warning event, and training goes on
        without it."""
        try:
            sink = make()
        except Exception as exc:  # noqa: BLE001 - a copy of the events never stops a run
            self._warn(f"{name}: not started ({type(exc).__name__}: {exc})")
            return
        self._sinks.append(sink)
        self._events.add_listener(sink)

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


def _notifier(config: Config, run_dir: Path, warn: Callable[[str], None]) -> Any:
    from redheart.notify.sender import Notifier

    return Notifier(config.notify, run_dir.name, warn)


def _tensorboard(run_dir: Path) -> Any:
    from redheart.runs.tensorboard_log import TensorBoardLog

    return TensorBoardLog(run_dir / "tensorboard")
