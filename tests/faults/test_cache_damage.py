"""A cache shard damaged while a run reads it: one line naming the shard, checkpoints intact."""

from __future__ import annotations

import shutil

import pytest

from tests.faults.harness import events, launch, newest_loadable, wait_until

HOW = ("truncated", "overwritten")


@pytest.fixture(scope="module")
def runs(quickstart_data, tmp_path_factory):
    """{how: (process, run directory, cache)}: one live run per kind of damage, each on its
    own copy of the cache, all started at once (each takes one core), so the second
    test's run is already training while the first one's is damaged."""
    started = {}
    for how in HOW:
        tmp = tmp_path_factory.mktemp(how)
        cache = tmp / "cache"
        shutil.copytree(quickstart_data[0].data.cache_dir, cache)
        run = tmp / "run"
        started[how] = launch(run, cache, ["train.max_steps=100000",
                                           "checkpoint.every_steps=5"], threads=1), run, cache
    yield started
    for proc, _, _ in started.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("how", HOW)
def test_a_shard_damaged_mid_run_stops_it_with_one_line(runs, how):
    proc, run, cache = runs[how]
    shard = next(cache.glob("states/*/shard-*.f16"))
    try:
        wait_until(lambda: any(e["type"] == "checkpoint" for e in events(run)), timeout=120,
                   what="the first checkpoint")
        with shard.open("r+b") as f:
            if how == "truncated":
                f.truncate(shard.stat().st_size // 2)
            else:
                f.write(b"\xff" * 65536)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2
    log = (run.parent / "run.log").read_text().strip().splitlines()
    expected = (f"error: {shard}: cache shard {how} while this run read it; its token states "
                f"cannot be trusted, so the run stops (its checkpoints are untouched); delete "
                f"{shard.parent} and run `redheart prepare PROFILE` again")
    assert log[-1] == expected and "Traceback" not in "\n".join(log)
    errors = [e for e in events(run) if e["type"] == "error"]
    assert [e["message"] for e in errors] == [expected.removeprefix("error: ")]
    name, step, loadable = newest_loadable(run)
    # the last checkpoint is whole: an every_steps one, or the evaluated one at an epoch's
    # end (a run that trained on while the other test ran can be past its first epoch)
    written = [e["step"] for e in events(run) if e["type"] == "checkpoint"]
    assert loadable and step >= 5 and step == written[-1], (step, written)
    assert not (run / "lock").exists()
