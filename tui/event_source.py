"""Where the console's events come from, and where its commands go.

Locally both are files in the run directory (`events.jsonl`, `control`);
remotely both are the user's own ssh running `redheart events --follow
--json` and `redheart control` on the other side, so no port is opened and
ssh does the authentication. The app polls `poll()` on a timer and applies
whatever arrived as one batch.
"""

from __future__ import annotations

import json
import queue
import shlex
import subprocess
import threading
from pathlib import Path
from typing import Any, Protocol

from redheart.runs.events import EventTail
from redheart.runs.liveness import EndWatch
from redheart.train.control import send_checked


class EventSource(Protocol):
    label: str

    def poll(self) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class Controller(Protocol):
    def send(self, cmd: str, lr: float | None = None) -> None: ...


class FileEventSource:
    """Tails RUN_DIR/events.jsonl; whole lines only, so a half-written event waits.

    A run that dies without a word (SIGKILL, a lost node) ends with a `killed`
    item, as `redheart events --follow` gives a remote console. `watch=False`
    for the console's own in-process run: it is told the end by its training
    thread, and the folder has no lock holder while the data is read.
    """

    def __init__(self, run_dir: Path, watch: bool = True) -> None:
        self.run_dir = run_dir
        self.label = str(run_dir)
        self._tail = EventTail(run_dir / "events.jsonl")
        self._watch: EndWatch | None = EndWatch(run_dir) if watch else None

    def poll(self) -> list[dict[str, Any]]:
        batch = self._tail.poll()
        if self._watch is not None:
            self._watch.see(batch)
            if ended := self._watch.ended():
                if ended == "killed":
                    batch.append(self._watch.killed_event())
                self._watch = None      # ended: the verdict is given once
        return batch

    def close(self) -> None:
        pass


class LocalController:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def send(self, cmd: str, lr: float | None = None) -> None:
        send_checked(self.run_dir, cmd, lr)


def parse_remote(spec: str) -> tuple[str, str]:
    """`[user@]host:RUN_DIR` -> (host, run_dir)."""
    host, sep, run_dir = spec.partition(":")
    if not sep or not host or not run_dir:
        raise ValueError(f"--remote {spec!r}: expected [user@]host:RUN_DIR")
    return host, run_dir


def remote_path(path: str) -> str:
    """A path quoted for the far side's shell, which ssh joins the words for.

    Quoted, so a space stays inside the path; but a leading `~/` (as users
    type `--remote box:~/runs/NAME`) is left to that shell to expand, since
    quoting it would hand `redheart` a folder literally named `~`.
    """
    if path == "~" or path.startswith("~/"):
        return "~" + (f"/{shlex.quote(path[2:])}" if path[2:] else "")
    return shlex.quote(path)


NOT_FOUND = 127
"""The shell's exit code for a command it cannot find: the far side's `redheart`."""


def ssh_failure(code: int, stderr: str, remote_redheart: str) -> str:
    """One line for an ssh command that failed: the exit code, the far side's last word,
    and for 127 (command not found) how to name the remote redheart, since ssh's
    non-interactive shell rarely has a virtual environment's bin on its PATH."""
    lines = stderr.strip().splitlines()
    text = f"ssh exited with {code}: {lines[-1] if lines else 'no message'}"
    if code == NOT_FOUND:
        text += (f" ('{remote_redheart}' was not found on the remote host; pass "
                 f"--remote-redheart /path/to/venv/bin/redheart)")
    return text


class SshEventSource:
    """`ssh HOST redheart events RUN_DIR --follow --json`, read line by line in a thread."""

    def __init__(self, spec: str, ssh_command: str = "ssh",
                 remote_redheart: str = "redheart") -> None:
        host, run_dir = parse_remote(spec)
        self.label = spec
        self.remote_redheart = remote_redheart
        # ssh joins the words for the far side's shell: a path with a space is quoted
        command = [*shlex.split(ssh_command), host, remote_redheart, "events",
                   remote_path(run_dir), "--follow", "--json"]
        # stdin from /dev/null: ssh otherwise reads the console's terminal and takes
        # keystrokes (a swallowed Tab moved the quit dialog's focus onto Stop).
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, bufsize=1)
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self.error: str | None = None
        self._reader = threading.Thread(target=self._read, name="ssh-events", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                self._queue.put(event)
        code = self._process.wait()
        if code not in (0, None):
            stderr = self._process.stderr.read() if self._process.stderr else ""
            self.error = ssh_failure(code, stderr, self.remote_redheart)

    def poll(self) -> list[dict[str, Any]]:
        events = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()


class SshController:
    """`ssh HOST redheart control RUN_DIR CMD [--lr X]`: the same channel as a local run."""

    def __init__(self, spec: str, ssh_command: str = "ssh",
                 remote_redheart: str = "redheart") -> None:
        self.host, self.run_dir = parse_remote(spec)
        self.ssh = shlex.split(ssh_command)
        self.remote_redheart = remote_redheart

    def send(self, cmd: str, lr: float | None = None) -> None:
        # ssh joins the words for the far side's shell: a path with a space is quoted
        command = [*self.ssh, self.host, self.remote_redheart, "control",
                   remote_path(self.run_dir), shlex.quote(cmd)]
        if lr is not None:
            command += ["--lr", shlex.quote(repr(lr))]
        # stdin from /dev/null: an ssh reading the terminal eats the console's keys
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(ssh_failure(done.returncode, done.stderr, self.remote_redheart))
