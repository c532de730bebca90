"""Training speed on one GPU: `local-8gb` under an 8 GiB cap and `cloud` uncapped, eager
and compiled, on real batches.

For each profile and each mode (eager; `[train] compile = true`) it builds
the run's trainer as `redheart run` does (the memory plan's savers applied),
on token states of the real data cached by the frozen encoder (the model's
step is what is measured, not the encoder), and trains `--warmup` steps then
`--steps` timed steps. It prints samples/s over the timed steps, their median
MFU (the step events' figure), peak allocated memory, and the first 20 total
losses of eager and compiled side by side with their largest relative
difference, against the goals of issue 19: local-8gb >= 1,200 samples/s and
peak <= 7.0 GiB under the cap, cloud MFU >= 0.40.

Dropout is off (`--dropout` keeps the profiles'), because inductor draws
dropout masks from its own generator: with dropout on, the two runs' losses
differ by design, not by compilation. Both modes see the same batches from
the same seed.

The GPU box has neither ../shared/data nor the encoder package; it uses the
pack that bench/quality_gpu.py makes:

    .venv/bin/python bench/quality_gpu.py pack .bench/quality            # here
    PYTHONUNBUFFERED=1 python3 bench/gpu_speed.py .bench/quality --out $OUT \\
        2>&1 | tee $OUT/log                                               # GPU box

`--out` gets speed.json, rewritten after each measured case, so a cut call
still returns what was measured. A CPU rehearsal of the path (its figures
mean nothing): `.venv/bin/python bench/gpu_speed.py .bench/quality --device cpu
--cases quickstart:0 --rows 300 --warmup 2 --settle 3 --steps 5 --backend eager`.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.quality_gpu import unpack  # noqa: E402

LOSSES_COMPARED = 20
BF16_TOLERANCE = 2e-2
"""Relative difference of a loss that bf16 rounding alone can make over 20 steps."""
GOALS = {"local-8gb": "samples/s >= 1200 and peak <= 7.0 GiB", "cloud": "MFU >= 0.40"}


def _case(spec: str) -> tuple[str, float]:
    name, _, cap = spec.partition(":")
    return name, float(cap or 0)


def measure_case(profile: Path, cap_gib: float, compiled: bool, work: Path,
                 args: argparse.Namespace) -> dict:
    """One profile in one mode: set up as `redheart run` does, then time the steps."""
    import torch

    from redheart.config_load import load_profile
    from redheart.data.batching import loader
    from redheart.data.sources import anchor_paths
    from redheart.data.training_data import training_data
    from redheart.memory.selector import plan_for
    from redheart.runs.events import EventWriter
    from redheart.train.compiled_step import graphs_compiled
    from redheart.train.run import with_sample_cap
    from redheart.train.trainer import Trainer

    cuda = args.device == "cuda"
    if cuda:
        total = torch.cuda.get_device_properties(0).total_memory
        fraction = min(1.0, cap_gib * 1024**3 / total) if cap_gib else 1.0
        torch.cuda.set_per_process_memory_fraction(fraction)
    overrides = [f'data.cache_dir="{work / "cache"}"', f'train.device="{args.device}"',
                 "data.encoder_trainable=false", f"train.compile={str(compiled).lower()}",
                 *([] if args.dropout else ["model.dropout=0.0", "model.attention_dropout=0.0"]),
                 *args.overrides]
    if (args.pack_dir / "encoder").is_dir():
        overrides.append(f'data.encoder="{(args.pack_dir / "encoder").resolve()}"')
    config = load_profile(profile, overrides)
    config = anchor_paths(with_sample_cap(config, args.rows), profile.parent)
    plan = plan_for(config, args.device)
    if plan.fits is False:
        sys.exit(f"bench/gpu_speed.py: {profile.name}: {plan.shortfall()}")
    config = plan.config
    data = training_data(config, profile.parent)
    # events make the trainer measure MFU, as in a run (the bench reads StepResult)
    events = EventWriter(work / f"{profile.stem}-{'compiled' if compiled else 'eager'}.jsonl")
    trainer = Trainer(config, data.train, [], data.featurizer, events)
    batches = loader(data.train, data.featurizer, trainer.plan.epoch(0), cuda=cuda)
    losses, mfus, samples, timed, compiling = [], [], 0, 0, 0
    started = time.perf_counter()
    timed_from, last_graph = None, -1
    for index, batch in enumerate(batches):
        settled = index >= args.warmup and index - last_graph > args.settle
        if timed_from is None and settled:
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            timed_from = time.perf_counter()
        graphs = graphs_compiled()
        result = trainer.train_step(batch)
        if graphs_compiled() > graphs:
            last_graph = index
            compiling += timed_from is not None    # a new batch structure while timed
        losses.append(result.loss["total"])
        if timed_from is not None:
            timed += 1
            samples += result.samples
            if result.mfu is not None:
                mfus.append(result.mfu)
        if timed == args.steps:
            break
    if cuda:
        torch.cuda.synchronize()
    if timed < args.steps:
        sys.exit(f"bench/gpu_speed.py: {profile.name}: the data gave {index + 1} batches, "
                 f"{timed} timed; raise --rows")
    seconds = time.perf_counter() - timed_from
    peak = torch.cuda.max_memory_allocated() if cuda else 0
    row = {"profile": profile.stem, "mode": "compiled" if compiled else "eager",
           "compiled_ran": trainer.compiler.active if compiled else None,
           "batch_size": config.train.batch_size, "savers": list(plan.savers),
           "cap_gib": cap_gib or None, "samples_per_s": samples / seconds,
           "mfu": statistics.median(mfus) if mfus else None,
           "peak_allocated_gib": peak / 1024**3, "warmup_seconds": timed_from - started,
           "warmup_steps": index + 1 - timed, "timed_steps": timed,
           "timed_steps_that_compiled": compiling, "graphs_compiled": graphs_compiled(),
           "losses": losses[:LOSSES_COMPARED]}
    events.close()
    del trainer, batches, data
    torch._dynamo.utils.counters.clear()         # graphs are counted per case
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    torch._dynamo.reset()
    return row


def print_table(rows: list[dict]) -> None:
    print(f"{'profile':<12} {'mode':<9} {'samples/s':>10} {'MFU':>7} {'peak GiB':>9} "
          f"{'cap GiB':>8} {'warm-up s':>10} {'graphs':>7}  savers")
    for r in rows:
        mfu = f"{r['mfu']:.3f}" if r["mfu"] is not None else "-"
        cap = f"{r['cap_gib']:.0f}" if r["cap_gib"] else "-"
        print(f"{r['profile']:<12} {r['mode']:<9} {r['samples_per_s']:>10.1f} {mfu:>7} "
              f"{r['peak_allocated_gib']:>9.2f} {cap:>8} {r['warmup_seconds']:>10.1f} "
              f"{r['graphs_compiled'] if r['mode'] == 'compiled' else '-':>7}  "
              f"{', '.join(r['savers']) or 'none'}"
              + (f"  ({r['timed_steps_that_compiled']} timed steps compiled)"
                 if r["timed_steps_that_compiled"] else "")
              + ("  (compilation failed: eager)" if r["compiled_ran"] is False else ""))


def print_losses(rows: list[dict]) -> None:
    for name in dict.fromkeys(r["profile"] for r in rows):
        modes = {r["mode"]: r["losses"] for r in rows if r["profile"] == name}
        if len(modes) < 2:
            continue
        eager, compiled = modes["eager"], modes["compiled"]
        worst = max(abs(c - e) / max(abs(e), 1e-12)
                    for e, c in zip(eager, compiled, strict=False))
        print(f"\n{name}: first {len(eager)} total losses, eager | compiled")
        for step, (e, c) in enumerate(zip(eager, compiled, strict=False), 1):
            print(f"  {step:>3}  {e:.5f} | {c:.5f}")
        print(f"  largest relative difference {worst:.2e}: "
              f"{'within' if worst <= BF16_TOLERANCE else 'OUTSIDE'} {BF16_TOLERANCE:.0e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pack_dir", type=Path, help="bench/quality_gpu.py pack's folder")
    parser.add_argument("--cases", nargs="+", default=["local-8gb:8", "cloud:0"],
                        help="PROFILE:CAP_GIB (0: uncapped), profiles/PROFILE.toml")
    parser.add_argument("--modes", nargs="+", default=["eager", "compiled"],
                        choices=("eager", "compiled"))
    parser.add_argument("--rows", type=int, default=3000,
                        help="rows read of each source (encoded once, shared by the modes)")
    parser.add_argument("--warmup", type=int, default=30,
                        help="untimed steps at least (allocator warm-up, compilation)")
    parser.add_argument("--settle", type=int, default=10,
                        help="and then until this many steps in a row compiled no graph")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--dropout", action="store_true", help="keep the profiles' dropout")
    parser.add_argument("--backend", default=None,
                        help="torch.compile backend (default inductor; 'eager' to rehearse)")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench/gpu_speed.py: no CUDA GPU is visible; --device cpu rehearses")
    if args.backend:
        from redheart.train import compiled_step

        compiled_step.COMPILE_BACKEND = args.backend
    device = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    print(f"device {device}, torch {torch.__version__}")
    start = time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="gpu-speed-") as tmp:
        work = Path(tmp)
        for spec in args.cases:
            name, cap = _case(spec)
            profile = unpack(args.pack_dir, ROOT / "profiles" / f"{name}.toml", work)
            for mode in args.modes:
                phase = time.perf_counter()
                rows.append(measure_case(profile, cap, mode == "compiled", work, args))
                print(f"{name} {mode}: {time.perf_counter() - phase:.0f} s "
                      f"({rows[-1]['samples_per_s']:.1f} samples/s)")
                if args.out:
                    args.out.mkdir(parents=True, exist_ok=True)
                    (args.out / "speed.json").write_text(json.dumps(
                        {"device": device, "rows": rows}, indent=2))
    print()
    print_table(rows)
    print_losses(rows)
    print("\ngoals: " + "; ".join(f"{k}: {v}" for k, v in GOALS.items()))
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
