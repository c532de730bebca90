"""Standard output that outlives its reader: a run keeps training when its log pipe closes.

`nohup redheart run P | tee train.log &` is how many people train on a
remote box; when the SSH session ends, `tee` dies of the hang-up and the
next progress line meets a closed pipe. Python raises BrokenPipeError
there, and a progress line is not worth the run: before this, the run died
at once, with no checkpoint, no `error` event and nothing on stderr
(events.jsonl, not the terminal, is the run's record). So the first
closed-pipe write (or hung-up terminal's) points the descriptor at /dev/null
(Python's documented recipe, which also lets the interpreter's final flush
succeed) and the lines after it are dropped.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, TextIO

GONE = (errno.EPIPE, errno.EIO)
"""A closed pipe; a terminal hung up (its SSH session ended: the run got SIGHUP and is
writing its last checkpoint)."""


class ReaderGoneSafe:
    """A text stream for Rich's Console that writes to `sys.stdout` (looked up at each
    write, as Console itself does) until its reader is gone, then to nothing."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self.gone = False
        """The reader went away: output goes to /dev/null from then on."""

    @property
    def _target(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def write(self, text: str) -> int:
        try:
            return self._target.write(text)
        except OSError as exc:
            if exc.errno not in GONE:
                raise
            self._drop()
            return len(text)

    def flush(self) -> None:
        try:
            self._target.flush()
        except OSError as exc:
            if exc.errno not in GONE:
                raise
            self._drop()

    def _drop(self) -> None:
        """Point the stream's descriptor at /dev/null, so the text still buffered in it
        (and every later write, ours or the interpreter's flush at exit) goes nowhere."""
        self.gone = True
        try:
            fd = self._target.fileno()
        except (OSError, ValueError, AttributeError):  # not a real file: nothing to point
            return
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
        try:
            self._target.flush()        # what was buffered when the pipe closed
        except OSError:
            pass

    def isatty(self) -> bool:
        return not self.gone and self._target.isatty()

    def __getattr__(self, name: str) -> Any:   # encoding, fileno, ... of the real stream
        return getattr(self._target, name)
