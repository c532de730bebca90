"""Telling the person at the console that the run it shows finished, failed or stalled.

Which events deserve a notice, and its words, is the library's rule
(redheart/notify/rules.py, shared with the training process's channels),
and a stall is its watchdog's (redheart/notify/stall.py) fed with the same
events. Here only: not for history (opening a run that ended last week
must not ring), and how: the terminal bell, an OSC 9 desktop notification
(`ESC ] 9 ; text BEL`, which iTerm2, WezTerm, kitty, Windows Terminal and
others show), and a toast in the console.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redheart.notify.rules import Notice, notice_for
from redheart.notify.stall import StallWatch

FRESH_S = 600.0
"""An event older than this (by its own `t`) is history, even in a later batch: ssh may
deliver a long run's past in several pieces."""
OSC9_MAX = 200


def osc9(text: str) -> str:
    """The escape sequence, with the controls that would end it early taken out."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text)[:OSC9_MAX]
    return f"\x1b]9;{clean}\x07"


class NoticeWatch:
    """The notices due for one run's events, as the console receives them in batches.

    A batch can notify only when the run was already seen live before it:
    the first batch of a run opened after its end is its history. A `killed`
    item has no time; it counts when the run was seen live.
    """

    def __init__(self, run: str, stall_minutes: float,
                 now: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.run = run
        self._now = now
        self._stall = StallWatch(stall_minutes, clock)
        self._live = False

    def batch(self, events: list[dict[str, Any]], live_after: bool) -> list[Notice]:
        """Notices for `events` (in order); `live_after` is whether the run is live once
        they are applied (a run seen live may notify from its next batch on)."""
        was_live, self._live = self._live, self._live or live_after
        notices = []
        for event in events:
            self._stall.see(event)
            if not was_live:
                continue
            t = event.get("t")
            if isinstance(t, (int, float)) and self._now() - t > FRESH_S:
                continue
            notice = notice_for(event, self.run)
            if notice is not None:
                notices.append(notice)
        return notices

    def stalled(self) -> Notice | None:
        """A stall notice once the watchdog says so (asked on the console's timer)."""
        item = self._stall.due() if self._live else None
        return notice_for(item, self.run) if item else None
