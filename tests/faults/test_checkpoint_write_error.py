"""A checkpoint write that fails before or after its folder is renamed into place.

Before: the folder never appears and the error says the earlier checkpoints
are intact. After (the `last` pointer or pruning failed): the step's folder is
whole, the error says so, and `--resume last` picks it without the pointer.
"""

from __future__ import annotations

import errno

import pytest

import redheart.runs.checkpoints as checkpoints
from redheart.runs.resume import resume_point
from redheart.train.trainer import TrainingError
from tests.conftest import make_trainer


def _full_disk(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where, kept", [
    ("save_file", "earlier checkpoints are intact"),
    ("_write_pointer", "step-00000003 was written whole"),
])
def test_the_error_says_what_was_kept(tmp_path, quickstart_data, monkeypatch, where, kept):
    trainer = make_trainer(quickstart_data, tmp_path / "run")
    monkeypatch.setattr(checkpoints, where, _full_disk)
    with pytest.raises(TrainingError) as raised:
        trainer.fit()
    trainer.close()
    assert str(raised.value) == (
        f"checkpoint write of step-00000003 failed: [Errno 28] No space left on device; "
        f"{kept}; free disk space, then continue with --resume last")
    root = tmp_path / "run" / "checkpoints"
    assert not [p.name for p in root.iterdir() if p.name.startswith(checkpoints.TMP_PREFIX)]
    picked = resume_point("last", tmp_path / "run")
    if where == "save_file":
        assert picked is None                     # nothing whole yet: start again at step 0
    else:
        assert picked == root / "step-00000003" and not (root / "last").exists()
