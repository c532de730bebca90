"""Checkpoints: atomic folders, pointers, pruning, and refusals with clear reasons."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest
import torch

from redheart.config import Config
from redheart.model.unified import UnifiedModel
from redheart.runs.checkpoints import (
    CheckpointError,
    TrainState,
    load_checkpoint,
    pointer_target,
    save_checkpoint,
)


@pytest.fixture()
def saved(tmp_path, tiny_config):
    torch.manual_seed(0)
    model = UnifiedModel(tiny_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    config = dataclasses.replace(Config(), model=tiny_config)
    root = tmp_path / "checkpoints"
    root.mkdir()
    for step in (1, 2, 3, 4):
        save_checkpoint(root, model, optimizer, TrainState(step=step), config, {}, step == 2, 2)
    return root, model, optimizer, config


def test_pointers_and_pruning_keep_last_and_best(saved):
    root, *_ = saved
    assert pointer_target(root, "last") == "step-00000004"
    assert pointer_target(root, "best") == "step-00000002"
    assert sorted(p.name for p in root.glob("step-*")) == [
        "step-00000002", "step-00000003", "step-00000004"]
    assert not list(root.glob(".tmp-*"))


def test_pruning_after_a_resume_from_an_earlier_step_keeps_the_new_checkpoints(saved):
    """A launch wrote steps 3 to 6 and was abandoned; the run resumed from step 2 writes 3
    and 4 again. keep_last keeps those two, written last, not the abandoned 5 and 6 that
    sort higher (by step it kept 5 and 6 and pruned the run's own new checkpoints)."""
    root, model, optimizer, config = saved
    for step in (5, 6):                       # the abandoned launch went further first
        save_checkpoint(root, model, optimizer, TrainState(step=step), config, {}, False, 9)
    for step in (3, 4):                       # resumed from step 2, writing 3 and 4 again
        save_checkpoint(root, model, optimizer, TrainState(step=step), config, {}, False, 2)
    assert sorted(p.name for p in root.glob("step-*")) == [
        "step-00000002", "step-00000003", "step-00000004"]        # best, and the 2 newest
    assert pointer_target(root, "last") == "step-00000004"


def test_round_trip_restores_parameters_and_state(saved, tiny_config):
    root, model, _, _ = saved
    fresh = UnifiedModel(tiny_config)
    optimizer = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    state, meta = load_checkpoint(root / "step-00000004", fresh, optimizer)
    assert state.step == 4 and meta["modules"] == list(model.enabled)
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


def test_other_architecture_names_the_differing_modules(saved, tiny_config):
    root, *_ = saved
    other = UnifiedModel(dataclasses.replace(tiny_config, modules=("emotion_analyzer",),
                                             surd_component_dim=48))
    with pytest.raises(CheckpointError, match="another architecture; modules that differ: "
                                              "dsp_simulator, emotion_analyzer, kalman_filter, "
                                              "surd_head, utilities"):
        load_checkpoint(root / "step-00000004", other, None)


def test_newer_schema_and_truncated_weights_are_refused(saved, tiny_config):
    root, *_ = saved
    folder = root / "step-00000004"
    meta = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps({**meta, "schema": 99}))
    with pytest.raises(CheckpointError, match="written by a newer Red Heart"):
        load_checkpoint(folder, UnifiedModel(tiny_config), None)
    folder = root / "step-00000003"
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="model.safetensors: damaged"):
        load_checkpoint(folder, UnifiedModel(tiny_config), None)


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_optimizer_file_with_a_pickle_payload_never_executes(saved, tiny_config, tmp_path):
    root, *_ = saved
    folder = root / "step-00000004"
    marker = tmp_path / "payload-ran"
    with (folder / "optimizer.pt").open("wb") as f:
        pickle.dump({"state": _Payload(marker)}, f)
    model = UnifiedModel(tiny_config)
    with pytest.raises(CheckpointError, match="optimizer.pt: refused"):
        load_checkpoint(folder, model, torch.optim.AdamW(model.parameters()))
    assert not marker.exists()


def test_last_is_the_newest_complete_folder_never_a_partial_one(saved, tmp_path):
    """A kill between a folder's rename and the pointer's move leaves `last` one behind;
    a kill mid-write leaves a `.tmp-` folder; a kill mid-delete never leaves a `step-*`."""
    from redheart.runs.checkpoints import resolve_checkpoint
    from redheart.runs.recovery import remove_partial_checkpoints

    root, *_ = saved
    run_dir = root.parent
    (root / "last").write_text("step-00000003\n")                # the pointer lagging
    partial = root / ".tmp-step-00000005-4242"                  # a write cut by a kill
    partial.mkdir()
    (partial / "state.json").write_text('{"step": 5, "order": 99}')
    pointer = root / ".last.4242.tmp"                            # a pointer move cut by one
    pointer.write_text("step-00000005\n")
    assert resolve_checkpoint("last", run_dir) == root / "step-00000004"
    assert sorted(remove_partial_checkpoints(root)) == sorted([partial.name, pointer.name])
    assert sorted(p.name for p in root.iterdir()) == [
        "best", "last", "step-00000002", "step-00000003", "step-00000004"]


def test_a_kill_before_the_best_pointer_moved_is_repaired_before_pruning(saved, monkeypatch):
    """A best checkpoint renamed into place whose `best` pointer a kill beat: the next
    launch's lock moves the pointer to it, so keep_last does not prune the real best."""
    from redheart.runs import checkpoints
    from redheart.runs.run_dir import claim_run_dir

    root, model, optimizer, config = saved
    write_pointer = checkpoints._write_pointer

    def killed_at_best(folder, name, target):
        if name == "best":
            raise KeyboardInterrupt          # the process dies here
        write_pointer(folder, name, target)

    monkeypatch.setattr(checkpoints, "_write_pointer", killed_at_best)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(root, model, optimizer, TrainState(step=5, best_loss=1.0), config,
                        {"eval": {"loss": 1.0}}, True, 2)
    monkeypatch.setattr(checkpoints, "_write_pointer", write_pointer)
    assert pointer_target(root, "last") == "step-00000005"
    assert pointer_target(root, "best") == "step-00000002"       # what the kill left

    claim_run_dir(root.parent, resuming=True).release()          # the resumed launch's lock
    assert pointer_target(root, "best") == "step-00000005"
    for step in (6, 7):                  # later evals were worse: no new best
        save_checkpoint(root, model, optimizer, TrainState(step=step, best_loss=1.0), config,
                        {}, False, 1)
    assert sorted(p.name for p in root.glob("step-*")) == ["step-00000005", "step-00000007"]
    claim_run_dir(root.parent, resuming=True).release()          # a right pointer stays
    assert pointer_target(root, "best") == "step-00000005"


REWRITE_KILLED = """
import dataclasses, json, os, sys
from pathlib import Path
import torch
from redheart.config import Config, ModelConfig
from redheart.model.unified import UnifiedModel
from redheart.runs import checkpoints
from redheart.runs.checkpoints import TrainState, save_checkpoint

torch.manual_seed(0)
model_config = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v
                              for k, v in json.loads(sys.argv[2]).items()})
model = UnifiedModel(model_config)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
config = dataclasses.replace(Config(), model=model_config)
root = Path(sys.argv[1])
save_checkpoint(root, model, optimizer, TrainState(step=3), config, {}, True, 3)
rename = os.rename

def killed_when_the_new_one_moves_in(src, dst):
    if Path(src).name.startswith(".tmp-step-"):
        os._exit(9)                     # SIGKILL's effect: nothing after this runs
    rename(src, dst)

checkpoints.os.rename = killed_when_the_new_one_moves_in
save_checkpoint(root, model, optimizer, TrainState(step=3), config, {}, True, 3)
"""


def test_a_kill_while_a_resumed_run_rewrites_its_step_keeps_the_checkpoint(tmp_path,
                                                                          tiny_config):
    """Resuming a finished run writes its last step again; a kill in the middle must not
    leave `best` and `last` naming a folder that the next lock deletes."""
    import subprocess
    import sys

    from redheart.runs.checkpoint_arg import checkpoint_folder
    from redheart.runs.run_dir import claim_run_dir
    from tests.conftest import ROOT

    root = tmp_path / "checkpoints"
    root.mkdir()
    killed = subprocess.run([sys.executable, "-c", REWRITE_KILLED, str(root),
                             json.dumps(dataclasses.asdict(tiny_config))], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == 9, killed.stderr
    claim_run_dir(tmp_path, resuming=True).release()             # the next launch's lock
    assert sorted(p.name for p in root.iterdir()) == ["best", "last", "step-00000003"]
    folder = checkpoint_folder(root / "best")                     # whole, as before the kill
    assert json.loads((folder / "state.json").read_text())["step"] == 3


def test_a_garbled_best_pointer_is_rewritten_when_the_run_is_next_locked(saved):
    """Bytes that are no UTF-8 (a disk error, a kill mid-write on an old filesystem) were a
    decode traceback while the lock was taken; the folder written as best is named again."""
    from redheart.runs.recovery import repair_best_pointer

    root, *_ = saved
    (root / "best").write_bytes(b"\xff\xfe\x00garbled")
    assert repair_best_pointer(root) == "step-00000002"
    assert pointer_target(root, "best") == "step-00000002"
