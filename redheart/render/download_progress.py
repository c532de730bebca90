"""What `redheart data download` shows: a Rich bar per file on a TTY, plain lines otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class DownloadProgress:
    """The download's reporter (redheart.data.download.run.Reporter) on stderr.

    Off a TTY (nohup, CI, a pipe) a bar would be control codes in a log, so
    each file gets a line when it starts, resumes and is verified instead.
    """

    def __init__(self, console: Console | None = None, tty: bool | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.label = ""

    def begin(self, label: str, url: str) -> None:
        self.label = label
        if not self.tty:
            self._line(f"{label}: downloading {url}")
            return
        if self.progress is None:
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     DownloadColumn(), TransferSpeedColumn(),
                                     TimeRemainingColumn(), console=self.console)
            self.progress.start()
        self.task = self.progress.add_task(label, total=None)

    def start(self, total: int | None, done: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, total=total, completed=done)
        elif done:
            self._line(f"{self.label}: resuming at byte {done}")

    def advance(self, nbytes: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, nbytes)

    def pinned(self, label: str, size: int, sha256: str, checked: list[str]) -> None:
        self._line(f"pinned {label}: {size} bytes, sha256 {sha256} ({'; '.join(checked)})")

    def placed(self, label: str, size: int, sha256: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, description=f"{label} (sha256 ok)")
        else:
            self._line(f"{label}: {size} bytes, sha256 ok")

    def finished(self, name: str, root: Path, fetched: int, present: int) -> None:
        self.close()
        self._line(f"{name}: {fetched} downloaded, {present} already present, in {root}")

    def close(self) -> None:
        """Stop the bars (also on an error, before its line is printed)."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False)
