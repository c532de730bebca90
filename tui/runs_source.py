"""Where the Runs screen and the Compare view get runs from: this machine, or ssh.

Locally the library lists, diffs and reads runs directly; remotely the same
three answers come from `redheart runs ROOT --json`, `redheart diff A B
--json` and `redheart events RUN --json` run through the user's own ssh,
as the event stream is (tui/event_source.py), so no port is opened. Every
method blocks: the screens call them from thread workers.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
from pathlib import Path
from typing import Any, Protocol

from redheart.errors import RedHeartError
from redheart.runs.config_diff import diff_runs
from redheart.runs.events import read_events
from redheart.runs.listing import RunSummary, list_runs
from tui.event_source import (
    Controller,
    EventSource,
    FileEventSource,
    LocalController,
    SshController,
    SshEventSource,
    remote_path,
)

SSH_TIMEOUT_S = 60


class RunsError(Exception):
    """Listing, diffing or reading runs failed; the message is one line for the user."""


class RunsSource(Protocol):
    label: str
    remote: bool

    def runs(self) -> list[RunSummary]: ...
    def diff(self, a: str, b: str) -> dict[str, Any]: ...
    def events(self, run: str) -> list[dict[str, Any]]: ...
    def open(self, run: str) -> tuple[EventSource, Controller]: ...


def summary_from_json(row: dict[str, Any]) -> RunSummary:
    """A `redheart runs --json` row as the library's RunSummary (keys a newer far side
    adds are left out, keys an older one lacks are None)."""
    names = {f.name for f in dataclasses.fields(RunSummary)}
    values = {name: row.get(name) for name in names}
    values["path"] = Path(str(row.get("path")))
    values["name"] = str(row.get("name") or values["path"].name)
    values["status"] = str(row.get("status") or "damaged")
    values["size_bytes"] = int(row.get("size_bytes") or 0)
    return RunSummary(**values)


class LocalRuns:
    remote = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def runs(self) -> list[RunSummary]:
        try:
            return list_runs(self.root)
        except RedHeartError as exc:
            raise RunsError(str(exc)) from None

    def diff(self, a: str, b: str) -> dict[str, Any]:
        try:
            return diff_runs(Path(a), Path(b))
        except RedHeartError as exc:
            raise RunsError(str(exc)) from None

    def events(self, run: str) -> list[dict[str, Any]]:
        path = Path(run) / "events.jsonl"
        if not path.is_file():
            raise RunsError(f"{path}: no such file")
        return list(read_events(path))

    def open(self, run: str) -> tuple[EventSource, Controller]:
        return FileEventSource(Path(run)), LocalController(Path(run))


class SshRuns:
    remote = True

    def __init__(self, host: str, root: str, ssh_command: str = "ssh",
                 remote_redheart: str = "redheart") -> None:
        self.host, self.root = host, root
        self.ssh_command, self.remote_redheart = ssh_command, remote_redheart
        self.label = f"{host}:{root}"

    def _run(self, *args: str) -> str:
        # ssh joins the words for the far side's shell, as SshEventSource relies on
        command = [*shlex.split(self.ssh_command), self.host, self.remote_redheart,
                   *map(remote_path, args)]
        try:
            # stdin from /dev/null: an ssh reading the terminal eats the console's keys
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=SSH_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RunsError(f"{self.host}: {exc}") from None
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            raise RunsError(f"{self.host}: {lines[-1] if lines else f'exit {done.returncode}'}")
        return done.stdout

    def runs(self) -> list[RunSummary]:
        try:
            rows = json.loads(self._run("runs", self.root, "--json"))
        except json.JSONDecodeError:
            raise RunsError(f"{self.host}: `redheart runs --json` did not print JSON; is "
                            f"{self.remote_redheart} this project's redheart?") from None
        return [summary_from_json(row) for row in rows if isinstance(row, dict)]

    def diff(self, a: str, b: str) -> dict[str, Any]:
        try:
            return json.loads(self._run("diff", a, b, "--json"))
        except json.JSONDecodeError:
            raise RunsError(f"{self.host}: `redheart diff --json` did not print JSON") from None

    def events(self, run: str) -> list[dict[str, Any]]:
        out = []
        for line in self._run("events", run, "--json").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                out.append(event)
        return out

    def open(self, run: str) -> tuple[EventSource, Controller]:
        spec = f"{self.host}:{run}"
        return (SshEventSource(spec, self.ssh_command, self.remote_redheart),
                SshController(spec, self.ssh_command, self.remote_redheart))
