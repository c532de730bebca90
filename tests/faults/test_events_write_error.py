"""A failing events write, anywhere (no tmpfs needed): /dev/full answers every write with
ENOSPC, as a full disk does."""

from __future__ import annotations

from pathlib import Path

import pytest

from redheart.runs.events import EventsWriteError, EventWriter

FULL = Path("/dev/full")


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
def test_a_failed_event_write_is_one_clear_error_and_stays_failed(tmp_path):
    path = tmp_path / "events.jsonl"
    path.symlink_to(FULL)
    writer = EventWriter(path)
    expected = (f"{path}: cannot write events (No space left on device); free disk space or "
                f"fix the run directory, then continue with --resume last")
    with pytest.raises(EventsWriteError) as first:
        writer.emit("state", state="running", step=0)
    assert str(first.value) == expected and first.value.exit_code == 1
    with pytest.raises(EventsWriteError, match="cannot write events"):
        writer.emit("step", step=1)                 # no event is dropped silently later
    writer.close()
