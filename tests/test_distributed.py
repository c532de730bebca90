"""torchrun on CPU (gloo): 2 processes follow 1 process, and their checkpoints resume alone.

The quickstart model (every module, MoE and packed attention included) on
the embedded sample data, with dropout off: dropout draws different masks
in a different process layout, everything else must agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROFILES, ROOT

STEPS = 22
RESUME_AT = 20
RECORDER = ROOT / "tests" / "distributed" / "loss_recorder.py"
UNEVEN = ("train.batch_size=15", "memory.micro_batch=5", "train.max_steps=6",
          "model.moe_top_k=8", "model.moe_experts=8")
"""test_uneven_slices_and_micro_batches_follow_one_process's runs."""


def _overrides(cache: str) -> list[str]:
    return [f"train.max_steps={STEPS}", "checkpoint.every_steps=10", "model.dropout=0",
            f'data.cache_dir="{cache}"']


def _start(tmp: Path, name: str, cache: str, procs: int = 1, resume: str = "-",
           extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, Path]:
    """A recorder run started in the background: (its process, where it records)."""
    out = tmp / f"{name}.json"
    script = [str(RECORDER), str(out), str(PROFILES / "quickstart.toml"), str(tmp / name),
              resume, *_overrides(cache), *extra]
    if procs == 1:
        command = [sys.executable, *script]
    else:
        torchrun = Path(sys.executable).with_name("torchrun")
        command = [str(torchrun), "--standalone", "--nproc_per_node", str(procs), *script]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with (tmp / f"{name}.log").open("w") as log:     # a file: a full pipe would block it
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                env=env), out


def _losses(started: tuple[subprocess.Popen, Path]) -> dict:
    """The per-step losses of a started run, once it has ended."""
    proc, out = started
    try:
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out.with_suffix(".log").read_text()[-3000:]
    return {int(k): v for k, v in json.loads(out.read_text())["losses"].items()}


def _record(tmp: Path, name: str, cache: str, procs: int = 1, resume: str = "-",
            extra: tuple[str, ...] = ()) -> dict:
    return _losses(_start(tmp, name, cache, procs, resume, extra))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, quickstart_data):
    """One process, then DDP and FSDP2 with 2 gloo processes, same global batch of 16; and
    the one-process reference of the uneven test, run beside the first (each one-process
    run keeps one core busy: two of them at once take the time of one)."""
    tmp = tmp_path_factory.mktemp("dist")
    cache = quickstart_data[0].data.cache_dir       # the sample set, already encoded
    alone = _start(tmp, "alone", cache)
    uneven_alone = _start(tmp, "alone-uneven", cache, extra=UNEVEN)
    alone, uneven_alone = _losses(alone), _losses(uneven_alone)
    ddp = _record(tmp, "ddp", cache, 2, extra=("distributed.strategy=ddp",))
    fsdp = _record(tmp, "fsdp", cache, 2, extra=("distributed.strategy=fsdp2",))
    return tmp, cache, alone, ddp, fsdp, uneven_alone


def _relative_gap(a: dict, b: dict, steps: range) -> float:
    return max(abs(a[s]["total"] - b[s]["total"]) / abs(a[s]["total"]) for s in steps)


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_follow_one(runs, strategy):
    _, _, alone, ddp, fsdp, _ = runs
    other = {"ddp": ddp, "fsdp": fsdp}[strategy]
    assert sorted(alone) == sorted(other) == list(range(1, STEPS + 1))
    # the batches change task from step to step, and the loss moves with them
    assert max(v["total"] for v in alone.values()) > 2 * min(v["total"] for v in alone.values())
    assert _relative_gap(alone, other, range(1, RESUME_AT + 1)) < 1e-5
    for step in range(1, RESUME_AT + 1):      # every task's loss, not only the total
        assert alone[step].keys() == other[step].keys()
        for task, loss in alone[step].items():
            assert other[step][task] == pytest.approx(loss, rel=1e-5, abs=1e-7), (step, task)


def test_uneven_slices_and_micro_batches_follow_one_process(runs):
    """15 rows on 2 ranks (8 and 7) in micro-batches of at most 5, under FSDP2: the slices,
    the accumulation and the per-field shares still add up to the one-process step.

    Every expert routes every row here (top_k = experts): the load-balance term is a
    product of per-micro-batch averages, so it depends on how rows are grouped into
    micro-batches, which differs between 1 and 2 processes by design; with all
    experts chosen it is a constant and the comparison is exact.
    """
    tmp, cache, _, _, _, alone = runs
    fsdp = _record(tmp, "fsdp-uneven", cache, 2, extra=(*UNEVEN, "distributed.strategy=fsdp2"))
    assert sorted(alone) == sorted(fsdp) == list(range(1, 7))
    gaps = {s: abs(alone[s]["total"] - fsdp[s]["total"]) / abs(alone[s]["total"]) for s in alone}
    assert max(gaps.values()) < 1e-5, (gaps, alone, fsdp)


def test_only_rank_zero_writes_events(runs):
    tmp = runs[0]
    events = [json.loads(line) for line in (tmp / "ddp" / "events.jsonl").read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(len(events)))   # one writer, no gaps
    started = next(e for e in events if e["type"] == "run_started")
    assert (started["world_size"], started["strategy"]) == (2, "ddp")
    assert sum(e["type"] == "run_started" for e in events) == 1
    assert not (tmp / "ddp" / "lock").exists()


def test_no_wrapped_model_outlives_the_process_group(runs):
    """The trainer sits in a reference cycle; left to the collector, its DDP/FSDP wrapper
    and the group it holds would be destroyed at an arbitrary time, at worst while the
    interpreter shuts down. `shutdown` frees them before the group is destroyed."""
    tmp = runs[0]
    for name in ("ddp", "fsdp"):
        for rank in (0, 1):
            assert (tmp / f"{name}.json.wrappers.{rank}").read_text() == "0", (name, rank)


def test_sharded_checkpoint_resumes_in_one_process(runs):
    """FSDP2's gathered step-20 checkpoint, resumed alone, continues the 1-process run."""
    tmp, cache, alone, _, _, _ = runs
    checkpoint = tmp / "fsdp" / "checkpoints" / f"step-{RESUME_AT:08d}"
    assert (checkpoint / "model.safetensors").is_file()
    copy = tmp / "resumed-from"
    shutil.copytree(checkpoint, copy)
    resumed = _record(tmp, "resumed", cache, resume=str(copy))
    assert sorted(resumed) == list(range(RESUME_AT + 1, STEPS + 1))
    assert _relative_gap(alone, resumed, range(RESUME_AT + 1, STEPS + 1)) < 1e-5


def test_a_sharded_job_resumes_with_rank_zero_reading_the_checkpoint(runs):
    """FSDP2 on 2 processes resumed from step 20: rank 0 alone reads the weights and the
    optimizer state, the other rank's shards come from it, and the run continues the
    1-process one."""
    tmp, cache, alone, _, _, _ = runs
    checkpoint = tmp / "fsdp" / "checkpoints" / f"step-{RESUME_AT:08d}"
    copy = tmp / "resumed-sharded-from"
    shutil.copytree(checkpoint, copy)
    resumed = _record(tmp, "resumed-sharded", cache, 2, resume=str(copy),
                      extra=("distributed.strategy=fsdp2",))
    assert sorted(resumed) == list(range(RESUME_AT + 1, STEPS + 1))
    assert _relative_gap(alone, resumed, range(RESUME_AT + 1, STEPS + 1)) < 1e-5
    reads = {rank: (tmp / f"resumed-sharded.json.reads.{rank}").read_text().split()
             for rank in (0, 1)}
    assert reads == {0: ["_read_weights", "_read_optimizer"], 1: []}


def test_rank_slices_cover_the_batch_once():
    from redheart.train.distributed import DistContext, micro_batches, rank_rows

    for rows, world in ((16, 2), (15, 4), (3, 4)):
        slices = [rank_rows(rows, DistContext(rank, world, rank, "ddp")) for rank in range(world)]
        if rows >= world:
            covered = [i for sl, _ in slices for i in range(rows)[sl]]
            assert covered == list(range(rows))
            assert sum(share for _, share in slices) == pytest.approx(1.0)
        else:       # too few rows: every rank runs them all, at share 1/world
            assert all(sl == slice(0, rows) and share == 1 / world for sl, share in slices)
        counts = {micro_batches(rows, 4, DistContext(r, world, r, "ddp")) for r in range(world)}
        assert len(counts) == 1     # every rank runs as many forwards as the others


def test_per_rank_forecast_shards_state_and_splits_the_batch():
    """Cloud profile on 4 GPUs: DDP keeps every byte of state and a quarter of the rows;
    FSDP2 also keeps a quarter of weights, gradients and AdamW state, plus gathered units."""
    from redheart.config_load import load_profile
    from redheart.memory.dry_run import meta_model
    from redheart.memory.forecast import FP32, forecast
    from redheart.step_shape import rank_accumulation
    from redheart.train.distributed import fsdp_unit_sizes

    config = load_profile(PROFILES / "cloud.toml", ["memory.micro_batch=8"])
    alone, ddp = forecast(config, "cuda"), forecast(config, "cuda", 4, "ddp")
    fsdp = forecast(config, "cuda", 4, "fsdp2")
    one, per_ddp, per_fsdp = (f.category_totals() for f in (alone, ddp, fsdp))
    assert (alone.rows, ddp.rows) == (8, 8)      # a forward holds micro_batch rows either way
    assert rank_accumulation(config, 1) == 8 and rank_accumulation(config, 4) == 2
    assert per_ddp["weights"] == one["weights"] and per_ddp["optimizer"] == one["optimizer"]
    for category in ("weights", "gradients", "optimizer"):
        assert per_fsdp[category] == pytest.approx(one[category] / 4, rel=1e-3)
    # Each parameter is gathered by exactly one unit (an analyzer's blocks by themselves,
    # not again by the analyzer), so the units' own sizes add up to the model.
    model = meta_model(config.model)
    sizes = fsdp_unit_sizes(model)
    assert sum(sizes) == sum(p.numel() for p in model.parameters())
    analyzer = model.emotion_analyzer
    blocks = sum(p.numel() for p in analyzer.blocks.parameters())
    own = sum(p.numel() for p in analyzer.parameters()) - blocks
    assert own in sizes and blocks > 0
    assert per_fsdp["fsdp_gather"] == 3 * FP32 * max(sizes)
    assert fsdp.total < ddp.total < alone.total + 1
    assert fsdp.as_json()["strategy"] == "fsdp2" and fsdp.as_json()["ranks"] == 4
