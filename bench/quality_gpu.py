"""`local-8gb` trained on the real data on one GPU, then validated, in under 8 minutes.

The dev numbers a GPU user gets from the full model, next to the same
prior and frozen-encoder probe `cpu-real` is judged against (README "How good
is it"). Two phases, because the GPU box has neither ../shared/data nor the
bundled encoder package, and takes at most 64 MiB of files:

    # here: the profile's data files (anecdotes cut to the fields the reader
    # reads) xz-compressed, and the encoder (fp16 weights + tokenizer)
    .venv/bin/python bench/quality_gpu.py pack .bench/quality
    # on the GPU box (carry .bench/quality)
    PYTHONUNBUFFERED=1 python3 bench/quality_gpu.py measure .bench/quality --out $OUT \
        2>&1 | tee $OUT/log       # what it printed comes back even if the call is cut

`measure` caps the process at 8 GiB (torch.cuda.set_per_process_memory_fraction)
to stand in for an 8 GB card, reads ../shared/data beside the repository
when it is there, else unpacks the data into a temporary folder (with a copy of
the profile that finds it), and then:

1. calibrates: `--calibration-steps` steps of the profile, to time a step
   on this GPU (the data read and the start-up are paid here too);
2. trains for as many steps as fit what is left of `--minutes` after an
   allowance for validation, with the warmup and cosine schedule over those
   steps, the encoder fine-tuned (`[data] encoder_trainable`) unless
   `--frozen`;
3. validates the run's best checkpoint on the GPU, the probe on the frozen
   encoder's states (encoded on the GPU into a fresh cache).

It prints the validate table, each phase's seconds, steps and samples/s,
peak GPU memory, and emotion macro-F1 against the GoEmotions paper's BERT-base
0.64; `--out DIR` also writes validate.json and summary.json there.

The encoder travels as fp16 and is loaded back to fp32: its weights differ
from the bundled ones by fp16 rounding (relative 5e-4), which fine-tuning
moves past at once. A CPU rehearsal of the whole path, on a small share of
the data: `measure PACK --profile profiles/cpu-real.toml --device cpu --rows 300
--minutes 6` in a clone without ../shared/data beside it.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROFILE = ROOT / "profiles" / "local-8gb.toml"
DATA_ROOT = ROOT.parent / "shared" / "data"
"""Where the profiles' `../../shared/data/...` paths point."""
ANECDOTE_FIELDS = ("title", "text", "label_scores")
"""What the Scruples anecdote reader reads; the rest of a published row is not needed."""
GOAL_MACRO_F1 = 0.64
CAP_BYTES = 8 * 1024**3


def _source_files(profile: Path) -> list[tuple[str, Path]]:
    """(kind, file) of each source of the profile, every file under DATA_ROOT."""
    from redheart.config_load import load_profile

    config = load_profile(profile)
    out = []
    for source in config.data.sources:
        path = (profile.parent / source.path).resolve()
        if not path.is_relative_to(DATA_ROOT.resolve()):
            sys.exit(f"bench/quality_gpu.py: {profile}: source {source.path} is not under "
                     f"{DATA_ROOT}; pack packs that folder only")
        out.append((source.kind, path))
    return out


def pack(out: Path, profile: Path) -> None:
    """The profile's data (xz-compressed tar, paths relative to DATA_ROOT) and the encoder."""
    import torch
    from safetensors.torch import load_file, save_file

    from redheart.data.encode import ENCODER_IDENTITY_FILES
    from redheart.data.encoder import BUNDLED_ENCODER, resolve_encoder_dir

    out.mkdir(parents=True, exist_ok=True)
    root = DATA_ROOT.resolve()
    with tarfile.open(out / "data.tar.xz", "w:xz") as archive:
        folders = set()
        for kind, path in _source_files(profile):
            if kind != "scruples_anecdotes":   # the folder: GoEmotions reads emotions.txt
                folders.add(path.parent)       # and the mappings beside its tsv
                continue
            name = str(path.relative_to(root))
            with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as cut:
                for line in path.open():
                    if line.strip():
                        row = json.loads(line)
                        cut.write(json.dumps({k: row[k] for k in ANECDOTE_FIELDS
                                              if k in row}) + "\n")
                cut.flush()
                archive.add(cut.name, arcname=name)
        for folder in sorted(folders):
            archive.add(folder, arcname=str(folder.relative_to(root)))
    source = resolve_encoder_dir(BUNDLED_ENCODER)
    encoder = out / "encoder"
    encoder.mkdir(exist_ok=True)
    for name in ENCODER_IDENTITY_FILES:       # what AutoModel and AutoTokenizer read
        if (source / name).is_file():
            shutil.copy2(source / name, encoder / name)
    weights = {k: v.to(torch.float16) if v.is_floating_point() else v
               for k, v in load_file(str(source / "model.safetensors")).items()}
    save_file(weights, str(encoder / "model.safetensors"), metadata={"format": "pt"})
    sizes = {p.name: p.stat().st_size for p in [out / "data.tar.xz",
                                                 *sorted(encoder.iterdir())]}
    total = sum(sizes.values())
    print(f"packed {out}: {total / 2**20:.1f} MiB "
          f"(data {sizes['data.tar.xz'] / 2**20:.1f} MiB, encoder "
          f"{(total - sizes['data.tar.xz']) / 2**20:.1f} MiB)")
    if total > 60 * 2**20:
        print("warning: over 60 MiB; the device takes 64 MiB with the repository")


def unpack(pack_dir: Path, profile: Path, work: Path) -> Path:
    """The profile to train: the repository's own when ../shared/data is there, else a
    copy under `work` whose `../../shared/data` paths reach the data unpacked beside it
    (once for every profile; nothing is written outside `work`). bench/gpu_speed.py
    trains from the same pack."""
    if DATA_ROOT.is_dir():
        print(f"data: {DATA_ROOT}")
        return profile
    copy = work / "repo" / "profiles" / profile.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(profile, copy)
    data = work / "shared" / "data"
    if not data.is_dir():
        data.mkdir(parents=True)
        with tarfile.open(pack_dir / "data.tar.xz", "r:xz") as archive:
            archive.extractall(data, filter="data")
        print(f"data: unpacked into {data}")
    return copy


def _step_seconds(run_dir: Path, skip: int) -> tuple[float, float]:
    """(median seconds a step, samples/s) from the run's step events, the first `skip`
    steps left out (allocator warm-up, first-batch tokenizer start). The trainer emits at
    most 20 step events a second, so a gap between two events is divided by the steps it
    spans."""
    events = [json.loads(line) for line in (run_dir / "events.jsonl").open() if line.strip()]
    steps = [e for e in events if e["type"] == "step" and e["step"] > skip]
    per_step = [(b["t"] - a["t"]) / (b["step"] - a["step"])
                for a, b in zip(steps, steps[1:], strict=False)]
    if not per_step:
        sys.exit(f"bench/quality_gpu.py: {run_dir}: fewer than {skip + 2} steps; "
                 f"raise --calibration-steps")
    return statistics.median(per_step), statistics.median(e["samples_per_s"] for e in steps)


def _train(profile: Path, overrides: list[str], run_dir: Path, rows: int | None):
    import torch

    from redheart.config_load import load_profile
    from redheart.train.reporter import QuietReporter
    from redheart.train.run import run_training

    config = load_profile(profile, overrides)
    outcome = run_training(config, profile.parent, QuietReporter(), run_dir=run_dir,
                           samples=rows)
    # The trainer is in a reference cycle (its checkpoint writer and control hold its
    # emit): collect it now, or its weights and AdamW state stay on the capped GPU.
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return config, outcome


def measure(pack_dir: Path, args: argparse.Namespace) -> None:
    import torch

    from redheart.render.validate_table import print_validation
    from redheart.train.validate import validate

    start = time.perf_counter()
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("bench/quality_gpu.py: no CUDA GPU is visible; pass --device cpu for a "
                     "rehearsal")
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, CAP_BYTES / total))
    work = Path(tempfile.mkdtemp(prefix="quality-gpu-"))
    args.profile = unpack(pack_dir, args.profile, work)
    base = [f'data.encoder="{(pack_dir / "encoder").resolve()}"',
            f'data.cache_dir="{work / "cache"}"', f'train.device="{args.device}"',
            f"data.encoder_trainable={'false' if args.frozen else 'true'}",
            "checkpoint.every_steps=1000000", *args.overrides]

    phase = time.perf_counter()
    _train(args.profile, [*base, f"train.max_steps={args.calibration_steps}",
                          "train.warmup_steps=0"], work / "calibration", args.rows)
    step_s, calibration_rate = _step_seconds(work / "calibration", skip=5)
    calibration = time.perf_counter() - phase
    # The training run pays the calibration's fixed costs again (start-up, data read and
    # tokenising, the plan, the final evaluation and checkpoint): only the rest is steps.
    fixed = calibration - args.calibration_steps * step_s
    left = (args.minutes * 60 - (time.perf_counter() - start) - fixed
            - args.validate_allowance)
    steps = int(left / step_s)
    if steps < 50:
        sys.exit(f"bench/quality_gpu.py: {step_s:.3f} s a step leaves {steps} steps in "
                 f"--minutes {args.minutes}; too few to train, raise --minutes")
    print(f"calibration: {args.calibration_steps} steps in {calibration:.0f} s "
          f"({fixed:.0f} s of it start-up, data read, evaluation and checkpoint); "
          f"{step_s * 1000:.1f} ms a step, "
          f"{calibration_rate:.1f} samples/s -> {steps} steps")

    phase = time.perf_counter()
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    config, outcome = _train(args.profile, [*base, f"train.max_steps={steps}",
                              f"train.warmup_steps={max(1, steps // 20)}"],
                             work / "run", args.rows)
    training = time.perf_counter() - phase
    peak = torch.cuda.max_memory_allocated() if args.device == "cuda" else 0
    _, train_rate = _step_seconds(work / "run", skip=5)

    phase = time.perf_counter()
    result = validate(work / "run", None, [], "dev", args.device)
    validation = time.perf_counter() - phase
    elapsed = time.perf_counter() - start

    print_validation(result, f"{args.profile.name}, encoder "
                     f"{'frozen' if args.frozen else 'fine-tuned'}, {steps} steps")
    f1 = result["metrics"]["emotion"]["macro_f1"]
    summary = {
        "profile": args.profile.name, "encoder": "frozen" if args.frozen else "fine-tuned",
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "cap_gib": CAP_BYTES / 1024**3 if args.device == "cuda" else None,
        "steps": steps, "batch_size": config.train.batch_size,
        "samples_per_s": train_rate, "peak_allocated_gib": peak / 1024**3,
        "seconds": {"calibration": calibration, "training": training,
                    "validation": validation, "total": elapsed},
        "emotion_macro_f1": f1, "goal_macro_f1": GOAL_MACRO_F1,
        "outcome": outcome.reason, "checkpoint": result["checkpoint"]}
    print(f"seconds: calibration {calibration:.0f}, training {training:.0f}, validation "
          f"{validation:.0f}, total {elapsed:.0f} (budget {args.minutes * 60:.0f})")
    print(f"{steps} steps x {config.train.batch_size} rows at {train_rate:.1f} samples/s; "
          f"peak allocated {peak / 1024**3:.2f} GiB")
    print(f"emotion macro-F1 (paper protocol) {f1:.3f} against the goal {GOAL_MACRO_F1}: "
          f"{'met' if f1 >= GOAL_MACRO_F1 else 'not met'}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "validate.json").write_text(json.dumps(result, indent=2))
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("pack", "measure"))
    parser.add_argument("pack_dir", type=Path)
    parser.add_argument("--profile", type=Path, default=PROFILE,
                        help="profile to pack and train (its sources under ../shared/data)")
    parser.add_argument("--minutes", type=float, default=8.0,
                        help="the whole measure phase, start to printed table")
    parser.add_argument("--validate-allowance", type=float, default=120.0,
                        help="seconds kept for validate (frozen encoding, probes, scoring)")
    parser.add_argument("--calibration-steps", type=int, default=30)
    parser.add_argument("--frozen", action="store_true",
                        help="keep the encoder frozen (cached states) instead of fine-tuning")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--rows", type=int, default=None,
                        help="read at most this many rows of each source (a rehearsal)")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.profile = args.profile.resolve()
    if args.phase == "pack":
        pack(args.pack_dir, args.profile)
    else:
        measure(args.pack_dir, args)


if __name__ == "__main__":
    main()
