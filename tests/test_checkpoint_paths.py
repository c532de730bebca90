"""Checkpoint paths as users type them (issue 14).

Every command that takes a checkpoint (`validate`, `grow`, `run --resume`,
`[train] init_from`) accepts a step folder, the `best`/`last` pointers, a run
directory or its `checkpoints/` folder, and refuses a bad one in one line
before any data is read or encoded. One real two-step quickstart run serves
every test; tests that write into a run work on a copy.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from redheart.cli import main
from redheart.runs.checkpoint_arg import checkpoint_folder
from redheart.runs.checkpoints import CheckpointError, resolve_checkpoint
from redheart.runs.events import read_events
from tests.conftest import PROFILES

QUICKSTART = PROFILES / "quickstart.toml"
STEP_1, STEP_2 = "step-00000001", "step-00000002"
FAST_S = 3.0
"""A refusal before any data work takes milliseconds; reading and encoding takes far longer."""


def redheart(*args: str) -> int:
    """`redheart ARGS` in this process (stdout dropped, the global RNG left as it was)."""
    with redirect_stdout(io.StringIO()), torch.random.fork_rng([]):
        return main(list(args))


def run_args(cache: str, *extra: str) -> list[str]:
    """`redheart run` of the quickstart profile: 40 rows a source, 2 steps, a checkpoint each."""
    return ["run", str(QUICKSTART), "--quiet", "--samples", "40", "--set",
            f'data.cache_dir="{cache}"', "--set", "train.max_steps=2", "--set",
            "checkpoint.every_steps=1", *extra]


@pytest.fixture(scope="module")
def run(quickstart_data, tmp_path_factory) -> Path:
    """A finished run with step-1 and step-2; `best` names step-1 and `last` step-2.

    The best pointer is set to step-1 by hand (as a run whose eval loss rose at
    step 2 leaves it), so that best, last and the newest folder are not one folder.
    """
    run_dir = tmp_path_factory.mktemp("runs") / "quickstart-run"
    assert redheart(*run_args(quickstart_data[0].data.cache_dir, "--run-dir", str(run_dir))) == 0
    (run_dir / "checkpoints" / "best").write_text(f"{STEP_1}\n")
    return run_dir


@pytest.fixture()
def cache(quickstart_data) -> str:
    return quickstart_data[0].data.cache_dir


def test_every_spelling_resolves_to_its_folder(run, monkeypatch):
    root = run / "checkpoints"
    expected = {root / STEP_1: STEP_1, root / STEP_2: STEP_2, root / "best": STEP_1,
                root / "last": STEP_2, run: STEP_1, root: STEP_1}
    for spec, name in expected.items():
        assert checkpoint_folder(spec) == (root / name).resolve(), spec
        assert checkpoint_folder(str(spec)) == (root / name).resolve(), spec
    monkeypatch.chdir(run.parent)                         # as typed in a shell, relative
    assert checkpoint_folder(f"{run.name}/checkpoints/best") == (root / STEP_1).resolve()
    assert checkpoint_folder(f"{run.name}/").is_absolute()
    # `--resume best` of a run directory keeps the run directory's spelling, as before.
    assert resolve_checkpoint("best", run) == root / STEP_1
    assert resolve_checkpoint(str(root / "last"), run) == (root / STEP_2).resolve()


def test_a_run_directory_whose_best_is_gone_is_refused_not_read_as_the_newest(run, tmp_path):
    copy = Path(shutil.copytree(run, tmp_path / "copy"))
    (copy / "checkpoints" / "best").write_text("step-00000009\n")   # pruned by hand
    root = copy / "checkpoints"
    with pytest.raises(CheckpointError, match=f"^{root}/best: names step-00000009, which is "
                                              f"missing or incomplete"):
        checkpoint_folder(copy)
    with pytest.raises(CheckpointError, match=r"/checkpoints/step-00000009: the pointer names "
                                              r"a missing folder \(pruned or deleted\)"):
        checkpoint_folder(copy / "checkpoints" / "best")
    (root / "best").unlink()                    # a run that never evaluated: its newest
    assert checkpoint_folder(copy) == (root / STEP_2).resolve()
    shutil.rmtree(copy / "checkpoints" / STEP_1)
    shutil.rmtree(copy / "checkpoints" / STEP_2)
    with pytest.raises(CheckpointError, match=f"^{copy}: no checkpoint yet"):
        checkpoint_folder(copy)


def test_validate_takes_the_best_pointer(run, capsys):
    code = main(["validate", str(run / "checkpoints" / "best"), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    assert result["checkpoint"] == str((run / "checkpoints" / STEP_1).resolve())
    assert result["metrics"]["emotion"]["count"] > 0
    assert 0.0 <= result["metrics"]["regret"]["mae"] <= 1.0
    assert result["baselines"]["prior"]["bentham"]["count"] == result["metrics"]["bentham"][
        "count"] > 0          # the pairs prior itself: tests/test_validate_metrics.py


def _half_written(run: Path, where: Path) -> Path:
    """A whole step folder under a writer's temporary name: complete-looking, never renamed."""
    return Path(shutil.copytree(run / "checkpoints" / STEP_1,
                                where / "checkpoints" / ".tmp-step-00000003-4242"))


def _no_weights(run: Path, where: Path) -> Path:
    folder = Path(shutil.copytree(run / "checkpoints" / STEP_1, where / "checkpoints" / STEP_1))
    (folder / "model.safetensors").unlink()
    return folder


BAD = {
    "missing": (lambda run, where: where / "runs" / "nope" / "checkpoints" / "best",
                "{p}: no such checkpoint; pass a checkpoints/step-N folder, a run directory, or "
                "its checkpoints/best or last pointer"),
    "half-written": (_half_written, "{p}: a half-written checkpoint (its write was cut off); "
                                    "pass a step-N folder beside it"),
    "no-weights": (_no_weights, "{p}: no model.safetensors; the checkpoint is incomplete, pick "
                                "another"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_validate_refuses_a_bad_checkpoint_before_any_data_work(run, tmp_path, capsys, case):
    """The issue's 87 s: the data was read and encoded before the checkpoint was looked at.

    The fresh cache folder is where that work would go (the half-written and
    weightless folders hold a config.toml that would be read with it).
    """
    make, message = BAD[case]
    path = make(run, tmp_path)
    fresh_cache = tmp_path / "fresh-cache"
    start = time.perf_counter()
    code = main(["validate", str(path), "--set", f'data.cache_dir="{fresh_cache}"'])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"error: {message.format(p=path)}\n"
    assert elapsed < FAST_S, f"{elapsed:.1f} s: data work before the checkpoint check"
    assert not fresh_cache.exists(), "the data was read before the checkpoint was checked"


def test_resume_from_a_pointer_path_continues_its_own_run(run, tmp_path, cache):
    copy = Path(shutil.copytree(run, tmp_path / "copy"))
    step_2 = copy / "checkpoints" / STEP_2 / "state.json"
    order = json.loads(step_2.read_text())["order"]
    assert redheart(*run_args(cache, "--resume", str(copy / "checkpoints" / "best"))) == 0
    started = [e for e in read_events(copy / "events.jsonl") if e["type"] == "run_started"]
    assert len(started) == 2                   # continued in the copy, not in a new run dir
    assert started[-1]["resumed_from"] == str((copy / "checkpoints" / STEP_1).resolve())
    assert started[-1]["step"] == 1
    assert json.loads(step_2.read_text())["order"] > order    # step 2 trained again


def test_init_from_a_run_directory_relative_to_the_profile(run, tmp_path, cache):
    """`init_from = "../<run>"` in a profile elsewhere: the run's best (step-1) weights,
    not its last, and the recorded config names the exact folder."""
    profile = tmp_path / "profiles" / "from-run.toml"
    profile.parent.mkdir()
    profile.write_text(QUICKSTART.read_text())
    relative = os.path.relpath(run, profile.parent)
    args = run_args(cache, "--set", f"train.init_from={relative}", "--set",
                    "train.no_param_update=true", "--set", "train.max_steps=1",
                    "--run-dir", str(tmp_path / "started"))
    args[1] = str(profile)
    assert redheart(*args) == 0
    started = load_file(str(tmp_path / "started" / "checkpoints" / STEP_1 / "model.safetensors"))
    best = load_file(str(run / "checkpoints" / STEP_1 / "model.safetensors"))
    last = load_file(str(run / "checkpoints" / STEP_2 / "model.safetensors"))
    assert all(torch.equal(started[k], best[k]) for k in best)
    assert not all(torch.equal(started[k], last[k]) for k in last)
    recorded = (tmp_path / "started" / "config.toml").read_text()
    assert f'init_from = "{(run / "checkpoints" / STEP_1).resolve()}"' in recorded


def test_a_run_started_from_a_checkpoint_keeps_its_regret_threshold(run, tmp_path, cache):
    """Until its first eval recalibrates it, a run started with `init_from` decides WRONG
    with the loaded model's threshold (grown checkpoints carry it), not the bare 0.5."""
    source = Path(shutil.copytree(run / "checkpoints" / STEP_2, tmp_path / "source"))
    state = json.loads((source / "state.json").read_text())
    (source / "state.json").write_text(json.dumps({**state, "regret_threshold": 0.23}))
    args = run_args(cache, "--set", f"train.init_from={source}", "--set",
                    "train.max_steps=3", "--run-dir", str(tmp_path / "started"))
    assert redheart(*args) == 0
    first = json.loads((tmp_path / "started" / "checkpoints" / STEP_1 / "state.json").read_text())
    assert first["step"] == 1 and first["regret_threshold"] == 0.23
