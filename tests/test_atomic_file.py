"""write_text_atomically: the old file survives a write that fails midway."""

from __future__ import annotations

import pytest

from redheart.atomic_file import write_text_atomically


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "last"
    write_text_atomically(path, "step-00000010\n", durable=True)
    with pytest.raises(UnicodeEncodeError):       # fails inside write(), after the open
        write_text_atomically(path, "step-00000020\n\udc80")
    assert path.read_text() == "step-00000010\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_two_processes_writing_the_same_file_never_fail_or_leave_half(tmp_path):
    """Ranks of one job, or `prepare` beside a run, may write one cache file at once."""
    import subprocess
    import sys

    path = tmp_path / "store.json"
    writer = ("import sys; from pathlib import Path; "
              "from redheart.atomic_file import write_text_atomically as w\n"
              "for i in range(200): w(Path(sys.argv[1]), sys.argv[2] * 20000)")
    procs = [subprocess.Popen([sys.executable, "-c", writer, str(path), mark])
             for mark in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert path.read_text() in ("a" * 20000, "b" * 20000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.json"]
