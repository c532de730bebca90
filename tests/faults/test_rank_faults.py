"""A torchrun job (2 gloo processes) whose ranks die: rank 1, rank 0, and a preempted agent.

One chain, resumed with `--resume last` after each fault, so the test pays
for five launches: rank 1 SIGKILLed at a random moment (DDP), rank 1
SIGKILLed just after a checkpoint step (FSDP2: while the shards are gathered
or the folder written), rank 0 SIGKILLed, then SIGTERM to the agent.
`bench/faults.py --ranks 2` runs the same at length.
"""

from __future__ import annotations

import pytest

from tests.faults.rank_faults import (
    END_LIMIT_S,
    preempt,
    rank_kill_chain,
    stop_job,
    trial_rows,
)

EVERY = 5
PLAN = [(1, "random", "ddp"), (1, "checkpoint", "fsdp2"), (0, "random", "ddp")]


@pytest.fixture(scope="module")
def chain(tmp_path_factory, quickstart_data):
    tmp = tmp_path_factory.mktemp("ranks")
    cache = quickstart_data[0].data.cache_dir
    run = tmp / "run"
    sets = ("train.max_steps=100000", f"checkpoint.every_steps={EVERY}",
            "checkpoint.keep_last=3")
    trials, job = rank_kill_chain(run, cache, sets, PLAN, every=EVERY, seed=1)
    try:
        preemption = preempt(run, job)
    finally:
        stop_job(job)
    return run, trials, preemption


def test_a_lost_rank_ends_the_job_and_resume_loses_at_most_every_steps(chain):
    _, trials, _ = chain
    table = trial_rows(trials)
    assert [(t.victim, t.moment, t.strategy) for t in trials] == PLAN, table
    for trial in trials:
        assert not trial.problems, table
        assert trial.end_s <= END_LIMIT_S, table
        assert trial.lock_free and trial.loadable, table
        assert trial.resumed_step == trial.newest_step, table       # never a partial one
        assert 0 <= trial.lost <= EVERY, table
        assert trial.survived(EVERY), table


def test_rank_zero_names_the_rank_it_lost_in_one_error_event(chain):
    _, trials, _ = chain
    for trial in trials[:2]:
        assert trial.reported.startswith("rank 1 (pid "), trial.reported
        assert f" was lost at step {trial.reached_step}, so rank 0 stops too; the job " \
               f"continues from its newest checkpoint with --resume last" in trial.reported
        assert trial.survivor_exits == {0: 1}


def test_a_lost_rank_zero_leaves_a_run_that_reads_as_killed(chain):
    killed = chain[1][2]
    assert killed.victim == 0
    assert killed.reported == "killed" and killed.followed_to == "killed"
    assert killed.survivor_exits == {1: 1}


def test_sigterm_to_the_agent_stops_every_rank_at_one_step_with_a_checkpoint(chain):
    _, trials, preemption = chain
    assert preemption.reason == "stopped"
    assert len(preemption.stopped_steps) == 1
    assert preemption.checkpoint_step == preemption.stopped_steps[0]
    assert preemption.rank_exits == {0: 0, 1: 0}        # both ranks: stopped cleanly
    assert preemption.end_s <= END_LIMIT_S
