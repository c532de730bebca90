"""events.jsonl cut mid-line by a crash: `events --follow` and `--attach` carry on across the
resumed run, and the seq numbers show the gap."""

from __future__ import annotations

import json
import shutil

from tests.conftest import ROOT
from tests.faults.harness import cut_line_scenario

RECORDED = ROOT / "tests" / "data" / "recorded_events"
CUT = 120
"""The line (and seq) the crash cut in half; lines after it were never written."""


def test_follow_and_attach_carry_on_past_a_cut_line(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(RECORDED, run)
    seen = cut_line_scenario(run, CUT)
    total = len(seen["original"])
    assert seen["follow_exit"] == 0, seen["follow_stderr"]
    printed = seen["followed"]
    assert [e["seq"] for e in printed] == [*range(CUT), *range(CUT + 1, total)]
    assert [e["type"] for e in printed[CUT:]] == seen["resumed_types"]
    assert seen["follow_stderr"] == [f"warning: events {CUT}-{CUT} are missing from {run}/"
                                     f"events.jsonl (cut or corrupted lines)"]
    assert seen["view_missing"] == [f"{CUT}-{CUT}"]
    assert seen["view_seen"] == len(printed) and seen["view_state"] == "finished"
    assert ("warning", f"events {CUT}-{CUT} are missing (cut or corrupted lines)") in \
        seen["view_messages"]
    cut_line = seen["original"][CUT]
    assert seen["on_disk"][CUT] == cut_line[: len(cut_line) // 2]   # kept, and ended
    assert [json.loads(x)["seq"] for x in seen["on_disk"][CUT + 1:]] == \
        list(range(CUT + 1, total))
