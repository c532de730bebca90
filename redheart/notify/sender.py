"""Sending notices through apprise from the process that trains (rank 0), so headless
runs notify too.

An event listener (EventWriter.add_listener): the training thread only puts
a notice on a queue; a worker thread sends it and watches for stalls, so a
slow or unreachable service never holds up a step. A notice that cannot be
sent (a URL apprise does not know, a network failure, a rejected token)
becomes one `warning` event; training goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from redheart.config import NotifyConfig
from redheart.notify.rules import Notice, notice_for
from redheart.notify.stall import StallWatch

CLOSE_WAIT_S = 30.0
"""How long the end of a run waits for its last notices (apprise gives each request
4 s to connect and 4 s to answer)."""
_DONE = object()


class Notifier:
    """Listener that sends the notices `[notify] on` selects to `[notify] urls`."""

    name = "notify"

    def __init__(self, config: NotifyConfig, run: str, warn: Callable[[str], None],
                 send: Callable[[Notice], list[str]] | None = None,
                 tick_s: float = 1.0) -> None:
        """`warn` reports a failure as a warning event; `send` returns the failures of
        one notice (apprise's, by default)."""
        self.run = run
        self.on = set(config.on)
        self._warn = warn
        self._send = send or AppriseSender(config.urls, warn).send
        self._watch = StallWatch(config.stall_minutes) if "stall" in self.on else None
        self._tick_s = min(tick_s, config.stall_minutes * 60 / 4)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="notify", daemon=True)
        self._thread.start()

    def __call__(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Send what is queued (at most `wait_s`), then stop."""
        self._queue.put(_DONE)
        self._thread.join(wait_s)

    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._tick_s)
            except queue.Empty:
                item = None
            if item is _DONE:
                return
            if item is not None and self._watch is not None:
                self._watch.see(item)
            stalled = self._watch.due() if self._watch is not None else None
            for event in (item, stalled):
                notice = notice_for(event, self.run) if event is not None else None
                if notice is not None and notice.kind in self.on:
                    self._deliver(notice)

    def _deliver(self, notice: Notice) -> None:
        try:
            failures = self._send(notice)
        except Exception as exc:  # noqa: BLE001 - a notifier's bug must not end training
            failures = [f"{type(exc).__name__}: {exc}"]
        for failure in failures:
            try:
                self._warn(f"notify: '{notice.title}' was not sent: {failure}")
            except Exception:  # noqa: BLE001 - the events file itself failed; nothing to tell
                return


class AppriseSender:
    """One apprise service per URL, so a failure names the URL it concerns (with its
    secrets masked, as apprise prints them)."""

    def __init__(self, urls: tuple[str, ...], warn: Callable[[str], None]) -> None:
        self._services: list[Any] = []
        if not urls:
            return
        import apprise  # only when a URL is configured

        # apprise logs its failures too; they are reported as warning events instead of
        # lines in the middle of the progress display.
        logging.getLogger("apprise").addHandler(logging.NullHandler())
        logging.getLogger("apprise").propagate = False
        for url in urls:
            service = apprise.Apprise.instantiate(url, suppress_exceptions=True)
            if service is None:
                scheme = url.split("://", 1)[0] if "://" in url else url[:12]
                warn(f"notify: '{scheme}://...' is not a URL apprise can send to; see "
                     f"https://github.com/caronc/apprise/wiki for the URL of each service")
            else:
                self._services.append(service)

    def send(self, notice: Notice) -> list[str]:
        """The failures: one line per URL that did not take the notice."""
        failures = []
        for service in self._services:
            try:
                sent = service.notify(body=notice.body, title=notice.title,
                                      notify_type=notice.level)
            except Exception as exc:  # noqa: BLE001 - a plugin's bug is one failed URL
                sent, why = False, f" ({exc})"
            else:
                why = ""
            if not sent:    # (the URL without apprise's default parameters)
                where = service.url(privacy=True).split("?", 1)[0]
                failures.append(f"{where} did not accept it{why}")
        return failures
