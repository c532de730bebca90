"""A long-lived `redheart predict --json --file -` subprocess, asked one text at a time.

The console never imports torch, so predictions come from the library's own CLI,
run beside the console (or on the training host over the user's ssh, exactly
like `--remote` events and control). The process loads the model once and then
answers one JSON line per text line, so only the first question pays for the
load; it exits when its stdin closes. A client is used from thread workers:
`ask` blocks, and a lock keeps one question and its answer together.
"""

from __future__ import annotations

import json
import posixpath
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.event_source import remote_path

STREAM_ARGS = ("--json", "--file", "-", "--all")
"""Streaming mode; `--all` keeps outputs trained on no rows, so the screen can mark them
untrained instead of leaving the user to guess why a task is missing."""


class PredictError(Exception):
    """The predictor could not answer: its one-line error (`error: ...`) or why it ended."""


@dataclass(frozen=True)
class PredictTarget:
    """Where a run lives and how to run `redheart predict` next to it.

    Local (host None): this Python's `-m redheart`. Remote: the same ssh command
    and remote `redheart` the console uses for `--remote`, so there is no second
    way to reach the host.
    """

    run_dir: str
    host: str | None = None
    ssh: tuple[str, ...] = ("ssh",)
    remote_redheart: str = "redheart"
    python: str = sys.executable

    @property
    def remote(self) -> bool:
        return self.host is not None

    def checkpoint(self, name: str) -> str:
        """The MODEL argument of one checkpoint folder of this run (by folder name, so a
        path recorded relative to the trainer's working directory still resolves)."""
        if self.remote:
            return posixpath.join(self.run_dir, "checkpoints", name)
        return str(Path(self.run_dir) / "checkpoints" / name)

    def present(self, name: str) -> bool:
        """Whether a checkpoint folder is still there (older ones are pruned). Unknown
        remotely without another ssh call, so assumed; predict says so if it is gone."""
        return self.remote or (Path(self.checkpoint(name)) / "state.json").is_file()

    def command(self, model: str) -> list[str]:
        if self.remote:
            # ssh joins the words and hands them to the remote shell: quote the path.
            return [*self.ssh, str(self.host), self.remote_redheart, "predict",
                    remote_path(model), *STREAM_ARGS]
        return [self.python, "-m", "redheart", "predict", model, *STREAM_ARGS]


class PredictClient:
    """One predictor process for one MODEL; started on the first question."""

    def __init__(self, model: str, command: list[str]) -> None:
        self.model = model
        self.command = command
        self.answered = False
        """True once the model has loaded and answered (later answers are quick)."""
        self._process: subprocess.Popen[str] | None = None
        self._stderr: deque[str] = deque(maxlen=50)
        self._stderr_reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _start(self) -> subprocess.Popen[str]:
        if self._process is None:
            if self._closed:
                raise PredictError("the predictor was closed")
            try:
                self._process = subprocess.Popen(
                    self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True, bufsize=1)
            except OSError as exc:
                raise PredictError(f"cannot run {self.command[0]}: {exc}") from exc
            # Drained all the time: a chatty load must not fill the pipe and stall.
            self._stderr_reader = threading.Thread(target=self._read_stderr,
                                                   name="predict-stderr", daemon=True)
            self._stderr_reader.start()
        return self._process

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            if line.strip():
                self._stderr.append(line.rstrip())

    def ask(self, text: str) -> dict[str, Any]:
        """The JSON answer for one text (blocks; the first call waits for the load).
        A per-line problem comes back as {"error": ..., "line": N}, as predict writes it."""
        line = " ".join(text.split())           # one text is one line
        with self._lock:
            process = self._start()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(line + "\n")
                process.stdin.flush()
                answer = process.stdout.readline()
            except (BrokenPipeError, ValueError, OSError):
                answer = ""
            if not answer:
                raise PredictError(self._why_ended(process))
            try:
                result = json.loads(answer)
            except json.JSONDecodeError as exc:
                self.close()
                raise PredictError(f"redheart predict wrote a line that is not JSON: "
                                   f"{answer.strip()[:120]}") from exc
            if not isinstance(result, dict):
                self.close()
                raise PredictError(f"redheart predict wrote {type(result).__name__}, "
                                   f"not a JSON object")
            self.answered = True
            return result

    def _why_ended(self, process: subprocess.Popen[str]) -> str:
        """The process's own last stderr line (its `error: ...`), else its exit code."""
        if self._closed:
            return "the predictor was closed"
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        if self._stderr_reader is not None:
            self._stderr_reader.join(timeout=2)
        if self._stderr:
            return self._stderr[-1]
        return f"redheart predict ended (exit code {code}) without an answer"

    def close(self) -> None:
        """Stop the process now: closing stdin ends it cleanly, terminate makes sure
        (a model still loading would otherwise finish its load first)."""
        self._closed = True
        process = self._process
        if process is None or process.poll() is not None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
        except OSError:
            pass
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None
