"""The line a surviving rank prints when a peer of its torchrun job is gone.

While the job starts (rank 0 reads the data, claims the run directory,
resumes) a peer that ends has most often refused bad input with its own
one-line error: the survivor points there, not at `--resume last`. Once
steps run, a lost peer is a crash, and `--resume last` is the way on.
"""

from __future__ import annotations

import os
import socket
import subprocess

from redheart.train.distributed import DistContext, peer_failure


def _ended_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _rank_one_of_two(rank_zero_pid: int) -> DistContext:
    host = socket.gethostname()
    return DistContext(rank=1, world=2, local_rank=1, strategy="ddp", backend="gloo",
                       peers=((host, rank_zero_pid), (host, os.getpid())))


def test_a_peer_that_ends_at_start_up_is_pointed_at_not_resumed_from():
    """rank 0 refused a bad data row (exit 2); rank 1, waiting for the data, said rank 0
    was lost and that the job continues from its newest checkpoint with --resume last."""
    pid = _ended_pid()
    lost = peer_failure(RuntimeError("[gloo] Connection closed by peer"),
                        _rank_one_of_two(pid), None)
    assert lost is not None and lost.exit_code == 1
    assert str(lost) == (f"rank 0 (pid {pid} on {socket.gethostname()}) ended while the job "
                         f"was starting, so rank 1 stops too; its own error above (or "
                         f"torchrun's report of how it ended) says why")


def test_a_peer_lost_during_the_steps_still_sends_the_job_to_its_checkpoint():
    pid = _ended_pid()
    lost = peer_failure(RuntimeError("[gloo] Connection closed by peer"),
                        _rank_one_of_two(pid), 37)
    assert str(lost) == (f"rank 0 (pid {pid} on {socket.gethostname()}) was lost at step 37, "
                         f"so rank 1 stops too; the job continues from its newest checkpoint "
                         f"with --resume last")


def test_contact_lost_at_start_up_names_no_checkpoint():
    """Every peer alive (this process stands for rank 0): the collective itself failed."""
    lost = peer_failure(RuntimeError("[gloo] Timed out waiting 300000ms for recv"),
                        _rank_one_of_two(os.getpid()), None)
    assert str(lost) == ("rank 1 lost contact with the other ranks while the job was starting "
                         "([gloo] Timed out waiting 300000ms for recv); their errors above (or "
                         "torchrun's report) say why")
