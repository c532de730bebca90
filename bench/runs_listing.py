"""How long `redheart runs` takes over 100 run directories, ten of them with 1 GiB events files.

Each run directory is what `redheart run` leaves: config.toml, a `best`
checkpoint's state.json, and an events.jsonl of the real event shapes (a
plan, run_started with the resolved config, step and memory events every
second, an eval per epoch, checkpoints, and an ending: finished, stopped,
failed, or none (killed)). Ten files are grown to 1 GiB: two are written
whole with step/memory lines, eight hold a hole (sparse, no disk) between
their first events and their last 2 MiB. The listing reads each file's ends
only, so it takes the same time either way; the figure printed is the time
of `list_runs` (warm page cache) and of the whole `redheart runs --json`
command, with the bytes the listing read (/proc/self/io rchar).

    .venv/bin/python bench/runs_listing.py [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config_load import load_profile  # noqa: E402
from redheart.config_toml import dumps  # noqa: E402
from redheart.runs.listing import list_runs  # noqa: E402
from redheart.units import GIB, MIB  # noqa: E402

RUNS, BIG, WRITTEN_WHOLE = 100, 10, 2
ENDINGS = ("finished", "stopped", "failed", "killed")


def _line(event: dict) -> bytes:
    return (json.dumps(event, separators=(",", ":")) + "\n").encode()


def _step(seq: int, t: float, step: int) -> dict:
    return {"v": 1, "seq": seq, "t": t, "type": "step", "step": step, "epoch": step // 500,
            "loss": {"emotion": 1.1, "bentham": 0.4, "regret": 0.1, "surd": 0.02,
                     "moe": 0.01, "total": 1.63},
            "lr": 3e-4, "grad_norm": 1.7,
            "grad_norm_by_module": {m: 0.3 for m in ("backbone", "emotion_head", "bentham_head",
                                                     "regret_head", "surd_head", "utilities")},
            "samples_per_s": 180.0, "tokens_per_s": 23000.0, "mfu": None}


def _memory(seq: int, t: float) -> dict:
    return {"v": 1, "seq": seq, "t": t, "type": "memory",
            "torch": {"allocated": 5 * GIB, "reserved": 6 * GIB, "peak": 7 * GIB},
            "gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 4060", "used": 7 * GIB,
                      "total": 8 * GIB, "util": 97, "temp": 71, "power": 112.0,
                      "process_used": 7 * GIB}], "rss": 3 * GIB, "gpu_state": "ok"}


class Events:
    """Writes one run's events with consecutive seq numbers and times."""

    def __init__(self, f, start: float) -> None:
        self.f, self.seq, self.t = f, 0, start

    def emit(self, type_: str, **fields) -> None:
        self.f.write(_line({"v": 1, "seq": self.seq, "t": round(self.t, 3), "type": type_,
                            **fields}))
        self.seq, self.t = self.seq + 1, self.t + 0.5

    def steps(self, first: int, count: int) -> None:
        for step in range(first, first + count):
            self.f.write(_line(_step(self.seq, self.t, step)))
            self.f.write(_line(_memory(self.seq + 1, self.t + 0.5)))
            self.seq, self.t = self.seq + 2, self.t + 1.0


def make_run(path: Path, index: int, config_text: str, size: int, whole: bool) -> None:
    path.mkdir(parents=True)
    (path / "config.toml").write_text(config_text)
    best = path / "checkpoints" / "step-00001000"
    best.mkdir(parents=True)
    (path / "checkpoints" / "best").write_text("step-00001000\n")
    (best / "state.json").write_text(json.dumps(
        {"step": 1000, "metrics": {"eval": {"emotion": 1.0, "bentham": 0.3, "regret": 0.08,
                                            "surd": 0.02, "pairs": 0.6, "loss": 2.0}}}))
    ending = ENDINGS[index % len(ENDINGS)]
    with (path / "events.jsonl").open("wb") as f:
        events = Events(f, time.time() - 86400 + index * 60)
        events.emit("plan", total_params=328_000_000, device="cuda", fits=True, savers=[])
        events.emit("run_started", config=config_text, device="cuda:0", world_size=1,
                    strategy="none", modules={}, total_steps=100_000, resumed_from=None,
                    step=0)
        events.steps(1, 2000)
        events.emit("eval", step=2000, epoch=1, metrics={"loss": 2.1}, regret_threshold=0.5)
        if whole:                           # real bytes up to the size
            block = b"".join(_line(_step(0, events.t, 2001)) + _line(_memory(0, events.t))
                             for _ in range(2000))
            while f.tell() < size - 4 * MIB:
                f.write(block)
        else:                               # a hole up to 2 MiB before the size
            f.write(b"\n")
            f.truncate(size - 2 * MIB)
            f.seek(0, 2)
            f.write(b"\n")
        events.steps(50_000, 3000)
        if ending == "failed":
            events.emit("error", message="CUDA out of memory", hint="")
        elif ending in ("finished", "stopped"):
            events.emit("run_finished", summary={"reason": "done" if ending == "finished"
                                                 else "stopped", "steps": 53_000})


def rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="where to make the runs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="leave the runs there")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="runs-listing-", dir=args.dir))
    try:
        config = load_profile(ROOT / "profiles" / "local-8gb.toml")
        config_text = dumps(config)
        made = time.perf_counter()
        for index in range(RUNS):
            big = index < BIG
            make_run(base / f"local-8gb-{index:03d}", index, config_text,
                     GIB if big else 4 * MIB + index * 50_000,
                     whole=big and index < WRITTEN_WHOLE)
        sizes = [(p / "events.jsonl").stat().st_size for p in base.iterdir()]
        print(f"made {RUNS} runs in {time.perf_counter() - made:.1f} s under {base}: "
              f"{sum(s >= GIB - 8 * MIB for s in sizes)} events files of 1 GiB "
              f"({WRITTEN_WHOLE} written whole, the rest sparse), the others "
              f"{min(sizes) / MIB:.1f}-{max(s for s in sizes if s < GIB / 2) / MIB:.1f} MiB; "
              f"{sum(sizes) / GIB:.1f} GiB of events in all")
        times, reads = [], []
        for _ in range(5):
            before, start = rchar(), time.perf_counter()
            rows = list_runs(base)
            times.append(time.perf_counter() - start)
            reads.append(rchar() - before)
        statuses = dict(Counter(r.status for r in rows))
        assert len(rows) == RUNS and not any(r.problem for r in rows), rows
        print(f"list_runs over {RUNS} runs: median {statistics.median(times) * 1000:.0f} ms, "
              f"best {min(times) * 1000:.0f} ms (warm cache, 5 listings); "
              f"{statistics.median(reads) / MIB:.1f} MiB read per listing; "
              f"statuses {statuses}")
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "redheart", "runs", str(base), "--json"],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        print(f"`redheart runs --json` (process start, imports, listing, printing): "
              f"{time.perf_counter() - start:.2f} s, {len(json.loads(done.stdout))} rows")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
