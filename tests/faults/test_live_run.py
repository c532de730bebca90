"""A live `redheart run` under attack: sockets, intruders, attach/detach, SIGKILL at random.

One quickstart run is started for this module and observed only from
outside. The tests use it in file order, and the last one (the kill loop)
takes it over as its first victim.
"""

from __future__ import annotations

import gc

import pytest

from tests.bad_inputs.cases import execute
from tests.faults.harness import (
    attach_once,
    events,
    kill_chain,
    launch,
    listening_sockets,
    newest_loadable,
    run_command,
    seq_gaps,
    steady_rss,
    trial_table,
    wait_until,
    warmed_up,
)

EVERY = 5
SETS = ("train.max_steps=100000", f"checkpoint.every_steps={EVERY}", "checkpoint.keep_last=2")


@pytest.fixture(scope="module")
def live(quickstart_data, tmp_path_factory):
    """(process, run directory, cache directory) of a quickstart run that goes on."""
    config = quickstart_data[0]
    run_dir = tmp_path_factory.mktemp("live") / "run"
    proc = launch(run_dir, config.data.cache_dir, SETS, threads=1)
    # Two epochs (two evaluations) and checkpoints in: memory has reached its working size
    # (the allocator grows over the first epochs' batch shapes, then stays flat).
    wait_until(lambda: warmed_up(run_dir, evals=2) or proc.poll() is not None, timeout=180,
               what="two epochs")
    assert proc.poll() is None, (run_dir.parent / "run.log").read_text()
    yield proc, run_dir, config.data.cache_dir
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_no_listening_socket_and_a_private_directory(live):
    proc, run_dir, _ = live
    held, listening = listening_sockets(proc.pid)
    assert listening == [], f"the run listens: {listening} ({held} sockets held)"
    assert run_dir.stat().st_mode & 0o777 == 0o700
    assert (run_dir / "events.jsonl").stat().st_mode & 0o777 == 0o600
    assert (run_dir / "lock").read_text().strip() == str(proc.pid)


def test_a_second_run_on_the_live_directory_is_refused_and_changes_nothing(live):
    proc, run_dir, cache = live
    config_before = (run_dir / "config.toml").read_bytes()
    argv = run_command(run_dir, cache, ("train.lr=0.0005",), resume=True)
    refused = execute(["redheart", *argv[3:]])        # in process: no second start-up
    assert refused.code == 2, refused.stderr
    assert refused.stderr == [f"error: {run_dir}: in use by a live run (pid {proc.pid}); "
                              f"attach to it or stop it first"]
    assert (run_dir / "config.toml").read_bytes() == config_before
    assert [e["type"] for e in events(run_dir)].count("plan") == 1  # no second launch began
    assert (run_dir / "lock").read_text().strip() == str(proc.pid)
    assert proc.poll() is None


def test_attach_and_detach_keep_memory_flat_and_miss_no_event(live):
    proc, run_dir, _ = live
    cycles = 4
    seen = []
    for cycle in range(cycles):
        seen.append(attach_once(run_dir))
        gc.collect()
        if cycle == 0:       # the first attach loads the console's modules: the baseline
            ui_base, trainer_base = steady_rss(), steady_rss(proc.pid)
    ui_growth = steady_rss() / ui_base - 1
    trainer_growth = steady_rss(proc.pid) / trainer_base - 1
    assert all(s["missing"] == [] and s["exit_choice"] == "leave" for s in seen), seen
    assert [s["events_seen"] for s in seen] == sorted(s["events_seen"] for s in seen)
    assert seen[-1]["events_seen"] > seen[0]["events_seen"]        # it was live throughout
    assert not (run_dir / "control").exists()                      # detaching sent nothing
    assert seq_gaps(events(run_dir)) == []
    assert ui_growth < 0.05, f"console RSS grew {ui_growth:.1%}"
    assert trainer_growth < 0.05, f"trainer RSS grew {trainer_growth:.1%}"
    assert proc.poll() is None


def test_sigkill_at_random_moments_and_during_checkpoint_writes(live):
    proc, run_dir, cache = live
    trials = kill_chain(run_dir, cache, SETS, trials=3, every=EVERY, seed=8, first=proc,
                        threads=1)
    table = trial_table(trials)
    assert [t.mode for t in trials] == ["random", "write", "random"]
    assert trials[1].partial, f"the kill did not land in a checkpoint write\n{table}"
    for trial in trials:
        assert trial.survived(EVERY), table
    everything = events(run_dir)
    assert everything[-1]["type"] == "run_finished", table
    assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".tmp-")]
    newest, step, loadable = newest_loadable(run_dir)   # the stop's checkpoint, whole
    assert loadable and step > trials[-1].resumed_step, (newest, step, table)
