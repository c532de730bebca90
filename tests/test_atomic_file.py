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
