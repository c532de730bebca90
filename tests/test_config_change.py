"""`--resume` with an edited profile: model and data-order keys refused, the rest warned."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from redheart.config import Config, DataSource
from redheart.config_load import load_profile
from redheart.config_toml import dumps
from redheart.runs.config_change import ACCEPTED, REFUSED, changes, classify, flat_config
from redheart.runs.events import read_events
from tests.conftest import PROFILES, run_here
from tests.faults.harness import file_digests

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def _every_key() -> list[str]:
    config = Config()
    config = dataclasses.replace(config, data=dataclasses.replace(
        config.data, sources=(DataSource(path="a.jsonl"),)))
    return list(flat_config(tomllib.loads(dumps(config))))


def test_every_schema_key_is_refused_or_accepted_never_both():
    """A new profile key fails here until someone decides whether a resume may change it."""
    keys = _every_key()
    assert "data.sources[0].max_tokens" in keys and "distributed.timeout_s" in keys
    for key in keys:
        assert classify(key) in ("refused", "accepted"), key
    assert not set(REFUSED) & set(ACCEPTED)
    assert classify("model.d_model") == "refused"
    assert classify("model.dropout") == "accepted"
    assert classify("data.sources[0].weight") == "refused"
    assert classify("train.task_weights.regret") == "accepted"
    with pytest.raises(KeyError):
        classify("train.no_such_key")


def test_a_source_found_in_another_folder_is_the_same_source_another_file_is_not():
    config = load_profile(PROFILES / "cpu-real.toml")
    saved = tomllib.loads(dumps(config))
    moved = [dict(s, path=f"/elsewhere/{s['path'].rsplit('/', 1)[-1]}")
             for s in saved["data"]["sources"]]
    renamed = [dict(s, path=s["path"] + ".old") for s in saved["data"]["sources"]]
    found = changes(dict(saved, data=dict(saved["data"], sources=moved)), config)
    assert found and all(c.moved and not c.refused for c in found)
    found = changes(dict(saved, data=dict(saved["data"], sources=renamed)), config)
    assert found and all(c.refused for c in found)
    assert {c.key for c in found} == {f"data.sources[{i}].path"
                                      for i in range(len(config.data.sources))}


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory, quickstart_data):
    """A 4-step run, in this process like the resumes below (what a resume accepts and
    refuses is the run command's logic, not its process), on the session's encoded
    sample set."""
    tmp = tmp_path_factory.mktemp("changed")
    cache = quickstart_data[0].data.cache_dir
    common = ["profiles/quickstart.toml", "--samples", "40", "--quiet",
              "--set", f'data.cache_dir="{cache}"', "--run-dir", str(tmp / "run")]
    first = run_here("run", *common, "--set", "train.max_steps=4",
                     "--set", "checkpoint.every_steps=2")
    assert first.returncode == 0, first.stderr
    return tmp / "run", common


def test_resume_refuses_model_and_data_order_changes_in_one_line(stopped_run):
    run, common = stopped_run
    before = file_digests(run)
    result = run_here("run", *common, "--resume", "last", "--set", "train.max_steps=4",
                      "--set", "checkpoint.every_steps=2", "--set", "train.batch_size=8",
                      "--set", "run.seed=3", "--set", "model.d_model=64")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    # another width is refused first, from the weights' shapes, naming the modules
    assert lines[0].startswith(f"error: {run / 'checkpoints' / 'step-00000004'}: another "
                               f"architecture; modules that differ")
    without_model = run_here("run", *common, "--resume", "last", "--set", "train.max_steps=4",
                             "--set", "checkpoint.every_steps=2", "--set",
                             "train.batch_size=8", "--set", "run.seed=3")
    assert without_model.returncode == 2
    assert without_model.stderr == (
        f"error: --resume {run / 'checkpoints' / 'step-00000004'}: the profile changed what "
        f"the run trains on or with: run.seed 0 -> 3; train.batch_size 16 -> 8; undo these "
        f"changes to continue, or start a new run from this checkpoint with [train] "
        f"init_from\n")
    assert len(without_model.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + without_model.stderr
    assert file_digests(run) == before      # refused before anything was written


def test_resume_accepts_schedule_changes_and_warns_about_each(stopped_run):
    run, common = stopped_run
    result = run_here("run", *common, "--resume", "last", "--set", "train.max_steps=6",
                      "--set", "checkpoint.every_steps=3", "--set", "train.lr=0.0005")
    assert result.returncode == 0, result.stderr
    launch = [e for e in read_events(run / "events.jsonl")]
    started = [i for i, e in enumerate(launch) if e["type"] == "run_started"][-1]
    last_launch = launch[max(i for i, e in enumerate(launch[:started]) if e["type"] == "plan"):]
    warnings = [e["message"] for e in last_launch if e["type"] == "warning"]
    assert warnings == [
        "--resume: checkpoint.every_steps 2 -> 3 since step-00000004 (accepted)",
        "--resume: train.lr 0.001 -> 0.0005 since step-00000004 (accepted)",
        "--resume: train.max_steps 4 -> 6 since step-00000004 (accepted)",
    ]
    assert launch[started]["step"] == 4
    finished = [e for e in last_launch if e["type"] == "run_finished"]
    assert finished[0]["summary"]["steps"] == 6
