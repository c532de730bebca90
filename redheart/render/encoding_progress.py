"""Progress of filling an encoder cache: minutes of work that must not look like a hang.

`prepare`, `run` and `validate` can each encode a corpus first (14 minutes
for `cpu-real` on 2 cores). On a terminal a transient Rich bar shows it; off
a terminal (nohup, tmux logs) one line at the start and one at every tenth,
so a log says what the process is doing without a line per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class EncodingProgress:
    """`advance(done, total)` is the `on_progress` of `encode_sources`; `close()` ends the bar.

    `line` prints one plain line (the caller's, so a run's lines keep their
    timestamps); a bar is drawn only when `tty`.
    """

    def __init__(self, console: Console, tty: bool, line: Callable[[str], None]) -> None:
        self.console = console
        self.tty = tty
        self.line = line
        self.encoded = 0
        self.bar: Progress | None = None
        self.task = None

    def advance(self, done: int, total: int) -> None:
        if not self.tty:
            if self.encoded == 0:
                self.line(f"encoding {total} texts into the cache")
            before = self.encoded * 10 // total
            self.encoded += done
            if self.encoded * 10 // total > before:
                self.line(f"encoded {self.encoded}/{total} texts")
            return
        if self.bar is None:
            self.bar = Progress(TextColumn("encoding"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("texts"), TimeRemainingColumn(),
                                console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("encode", total=total)
        self.encoded += done
        self.bar.update(self.task, total=total, advance=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@contextmanager
def encoding_progress(console: Console,
                      lines: bool = True) -> Iterator[Callable[[int, int], None]]:
    """An `on_progress` for the duration of a command's encoding, on `console` (stderr for
    commands whose stdout is data, such as `validate --json`). `lines=False` keeps a
    console that is no terminal silent (`prepare`, whose failure must stay one line)."""
    def line(text: str) -> None:
        if lines:
            console.print(text, markup=False, highlight=False)

    progress = EncodingProgress(console, console.is_terminal, line)
    try:
        yield progress.advance
    finally:
        progress.close()
