"""Memory forecast vs a real CUDA training step, on an 8 GB budget.

Two phases, because the GPU box has no copy of the data or the encoder:

    # here (CPU): real texts -> token states + targets, padded to 128 tokens
    .venv/bin/python bench/memory_gpu.py export .bench/memory_gpu
    # on the GPU box
    python3 bench/memory_gpu.py measure .bench/memory_gpu

`measure` caps the process at 8 GiB (torch.cuda.set_per_process_memory_fraction)
to stand in for an 8 GB card and, for the `local-8gb` profile (330M, bf16
autocast, fused AdamW) and each saver, prints:

- saved-for-backward bytes of one real step (hooks, real CUDA autocast) vs the
  meta dry run's activations + autocast copies;
- torch.cuda.max_memory_allocated over three real steps vs the forecast peak
  (without the CUDA context, which the allocator does not see), and the NVML
  used memory of the process vs the forecast with context;
- samples/s.

It also plans the profile for a 5 GiB budget and trains the planned config
under a 5 GiB cap, and times a module toggle's forecast recomputation.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config import Config  # noqa: E402
from redheart.config_load import load_profile  # noqa: E402
from redheart.data.example import Example  # noqa: E402
from redheart.units import GIB, MIB  # noqa: E402

TOKENS = 128
ROWS = 64


def export(out: Path) -> None:
    """Real examples and dilemma pairs (GoEmotions + Scruples when ../shared/data has them,
    else the bundled sample set) with their encoder token states, padded to 128 tokens."""
    from safetensors.torch import save_file

    from redheart.data.encoder import TextEncoder
    from redheart.data.prepare import read_sources
    from redheart.data.sources import anchor_paths
    from redheart.train.run import with_sample_cap

    shared = ROOT.parent / "shared" / "data"
    profile = ROOT / "profiles" / ("cpu-real.toml" if shared.is_dir() else "quickstart.toml")
    config = anchor_paths(with_sample_cap(load_profile(profile), ROWS), profile.parent)
    sources = [s for s in read_sources(config, profile.parent) if s.source.split == "train"
               or s.pairs]
    examples = [e for s in sources for e in s.examples[: ROWS // 2]]
    pairs = [p for s in sources for p in s.pairs][: ROWS // 2]
    texts = sorted({e.text for e in examples} | {p.first for p in pairs} |
                   {p.second for p in pairs})
    states, mask = TextEncoder(max_tokens=TOKENS).encode(texts)
    padded = torch.zeros(len(texts), TOKENS, states.shape[-1], dtype=torch.float16)
    padded[:, : states.shape[1]] = states.half()
    full_mask = torch.zeros(len(texts), TOKENS, dtype=torch.bool)
    full_mask[:, : mask.shape[1]] = mask
    out.mkdir(parents=True, exist_ok=True)
    save_file({"states": padded, "mask": full_mask}, str(out / "states.safetensors"))
    (out / "examples.json").write_text(json.dumps({
        "profile": profile.name, "texts": texts,
        "examples": [dataclasses.asdict(e) for e in examples],
        "pairs": [dataclasses.asdict(p) for p in pairs]}))
    print(f"exported {len(examples)} examples and {len(pairs)} pairs from {profile.name} "
          f"to {out}")


class PaddedStates:
    """Featurizer over the exported states: every batch is the full 128 tokens, the shape
    the forecast assumes (padding changes no tensor size)."""

    def __init__(self, texts: list[str], states: torch.Tensor, mask: torch.Tensor) -> None:
        self.index = {t: i for i, t in enumerate(texts)}
        self.states, self.mask = states.float(), mask

    def features(self, texts):
        rows = [self.index[t] for t in texts]
        return self.states[rows], self.mask[rows]

    def length(self, text):
        return TOKENS


def _sources(data: Path):
    from safetensors.torch import load_file

    from redheart.config import DataSource
    from redheart.data.example import DilemmaPair
    from redheart.data.sources import SourceData

    tensors = load_file(str(data / "states.safetensors"))
    body = json.loads((data / "examples.json").read_text())

    def tuples(row):
        return {k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}

    examples = [Example(**tuples(e)) for e in body["examples"]]
    pairs = [DilemmaPair(**tuples(p)) for p in body["pairs"]]
    featurizer = PaddedStates(body["texts"], tensors["states"], tensors["mask"])
    return [SourceData(DataSource(kind="jsonl", path="exported"), data, examples),
            SourceData(DataSource(kind="scruples_dilemmas", path="exported"), data, [],
                       pairs)], featurizer


def _saved_bytes_real(trainer, batch) -> int:
    """Bytes autograd saves in one real FORWARD + COMPUTE under CUDA autocast."""
    from redheart.memory.activations import measure_saved

    def step():
        with trainer._autocast():
            out = trainer._compute(trainer._forward(batch))
        return trainer._combine(out)

    trainer.model.train()
    return measure_saved(trainer.model, step).total()


def _on_cuda(name: str, *args):
    """torch.cuda.NAME(*args) on a GPU; nothing in the CPU smoke run."""
    return getattr(torch.cuda, name)(*args) if torch.cuda.is_available() else 0


def _trace_phases(trainer) -> dict[str, int]:
    """Peak allocated bytes per phase, over every step: FORWARD+backward of regular and of
    dilemma-pair batches, what is held when the optimizer starts, and the optimizer step."""
    phases: dict[str, int] = {}
    train_step, optimizer_step = trainer.train_step, trainer.optimizer.step
    kind = ["regular"]

    def note(name: str, value: int) -> None:
        phases[name] = max(phases.get(name, 0), value)

    def traced_train_step(batch):
        kind[0] = "pair" if batch.pair_inputs is not None else "regular"
        _on_cuda("reset_peak_memory_stats")
        return train_step(batch)

    def traced_optimizer_step(*args, **kwargs):
        note(f"forward_backward_{kind[0]}", _on_cuda("max_memory_allocated"))
        note("held_at_step", _on_cuda("memory_allocated"))
        _on_cuda("reset_peak_memory_stats")
        result = optimizer_step(*args, **kwargs)
        note("optimizer_step", _on_cuda("max_memory_allocated"))
        return result

    trainer.train_step = traced_train_step
    trainer.optimizer.step = traced_optimizer_step
    return phases


def measure_one(label: str, config: Config, sources, featurizer, cap_gib: float) -> dict:
    from redheart.data.batching import loader
    from redheart.memory.dry_run import measure_step
    from redheart.memory.forecast import forecast
    from redheart.memory.nvml import default_nvml
    from redheart.train.trainer import Trainer

    gc.collect()
    _on_cuda("empty_cache")
    if torch.cuda.is_available():
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(cap_gib * GIB / total)
    _on_cuda("reset_peak_memory_stats")
    predicted = forecast(config, "cuda")
    trainer = Trainer(config, sources, [], featurizer)
    plan = trainer.plan.epoch(0)
    regular = next(b for b in loader(sources, featurizer, plan, workers=0)
                   if b.pair_inputs is None)
    pair = next(b for b in loader(sources, featurizer, plan, workers=0)
                if b.pair_inputs is not None)
    from redheart.step_shape import step_shape

    micro = regular.split(step_shape(config).accumulation_steps)[0]
    saved_real = _saved_bytes_real(trainer, micro.to(trainer.device))
    saved_dry = measure_step(config, predicted.bf16, pairs=False, device="cuda").total()
    gc.collect()
    phases = _trace_phases(trainer)
    trainer.train_step(regular)                  # the first step allocates the AdamW state
    times = []
    for batch in (pair, regular, pair):
        _on_cuda("synchronize")
        start = time.perf_counter()
        trainer.train_step(batch)
        _on_cuda("synchronize")
        times.append(time.perf_counter() - start)
    peak = max(phases.values())
    reserved = _on_cuda("max_memory_reserved")
    reading = default_nvml().sample()
    mine = next((g.process_used for g in reading.gpus if g.process_used), None)
    row = {
        "label": label, "cap_gib": cap_gib,
        "saved_forecast_mib": saved_dry / MIB,
        "saved_real_mib": saved_real / MIB,
        "peak_forecast_mib": (predicted.total - predicted.context) / MIB,
        "peak_real_mib": peak / MIB, "reserved_mib": reserved / MIB,
        "nvml_process_mib": None if mine is None else mine / MIB,
        "forecast_with_context_mib": predicted.total / MIB,
        "samples_per_s": config.train.batch_size / min(times),
        "phases_mib": {k: v / MIB for k, v in phases.items()},
    }
    del trainer, regular, pair
    gc.collect()
    _on_cuda("empty_cache")
    return row


def _base(smoke: bool) -> Config:
    base = load_profile(ROOT / "profiles" / "local-8gb.toml",
                        ["train.device=cpu", "train.batch_size=2"] if smoke
                        else ["train.device=cuda"])
    return dataclasses.replace(base, data=dataclasses.replace(base.data, max_tokens=TOKENS))


def scenarios(base: Config) -> list[tuple[str, Config, float]]:
    """(label, config, memory cap in GiB): the profile, each saver alone, and the plan for
    a 5 GiB budget trained under a 5 GiB cap."""
    from redheart.memory.selector import Budget, plan

    def variant(**changes):
        return dataclasses.replace(base, memory=dataclasses.replace(base.memory, **changes))

    planned = plan(base, "cuda", Budget(5 * GIB, "bench 5 GiB"))
    return [
        ("local-8gb as written", base, 8.0),
        ("+ activation checkpointing", variant(activation_checkpointing=True), 8.0),
        ("+ analyzer optimizer offload", variant(offload_analyzer_optimizer=True), 8.0),
        ("micro-batch 4 (x4 accumulation)", variant(micro_batch=4), 8.0),
        ("foreach AdamW (not fused)", variant(fused_adamw=False), 8.0),
        (f"planned for 5 GiB: {'+'.join(planned.savers[2:])}", planned.config, 5.0),
    ]


def one(data: Path, index: int) -> None:
    """One scenario in this (fresh) process, so each starts from an empty GPU."""
    smoke = not torch.cuda.is_available()
    label, config, cap = scenarios(_base(smoke))[index]
    sources, featurizer = _sources(data)
    try:
        row = measure_one(label, config, sources, featurizer, cap)
    except torch.OutOfMemoryError as exc:
        row = {"label": label, "error": f"OOM under the {cap:g} GiB cap: {exc}"[:160]}
    print("ROW " + json.dumps(row), flush=True)


def measure(data: Path) -> None:
    import subprocess

    from redheart.memory import dry_run
    from redheart.memory.forecast import forecast

    smoke = not torch.cuda.is_available()
    if smoke:
        print("no CUDA GPU: CPU smoke run of the first scenario (batch 2), no figures")
    else:
        print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    base = _base(smoke)
    rows = []
    for index in range(1 if smoke else len(scenarios(base))):
        done = subprocess.run([sys.executable, __file__, "one", str(data), str(index)],
                              capture_output=True, text=True, timeout=300)
        found = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
        rows.append(json.loads(found[0]) if found else
                    {"label": f"scenario {index}", "error": done.stderr.strip()[-300:]})
        print(json.dumps(rows[-1]), flush=True)
        if "phases_mib" in rows[-1]:
            print("   phases (MiB): " + ", ".join(f"{k} {v:.0f}"
                                               for k, v in rows[-1]["phases_mib"].items()))
    if smoke:
        return

    print()
    print(f"{'scenario':44} {'saved fc':>8} {'real':>6} {'err':>6} {'peak fc':>7} "
          f"{'real':>6} {'err':>6} {'rsvd':>6} {'nvml':>6} {'ctx':>5} {'samp/s':>6}")
    for r in rows:
        if "error" in r:
            print(f"{r['label']:44} {r['error']}")
            continue
        saved_err = (r["saved_forecast_mib"] - r["saved_real_mib"]) / r["saved_real_mib"]
        peak_err = (r["peak_forecast_mib"] - r["peak_real_mib"]) / r["peak_real_mib"]
        nvml = r["nvml_process_mib"]
        context = "-" if nvml is None else f"{nvml - r['reserved_mib']:.0f}"
        print(f"{r['label'][:44]:44} {r['saved_forecast_mib']:8.0f} {r['saved_real_mib']:6.0f} "
              f"{saved_err:+6.1%} {r['peak_forecast_mib']:7.0f} {r['peak_real_mib']:6.0f} "
              f"{peak_err:+6.1%} {r['reserved_mib']:6.0f} {'-' if nvml is None else nvml:>6} "
              f"{context:>5} {r['samples_per_s']:6.1f}")
    print("MiB. saved: bytes held for backward after FORWARD+COMPUTE of a regular batch, dry "
          "run vs hooks on the real step. peak: max_memory_allocated over steps on regular and "
          "dilemma-pair batches vs the forecast total without the CUDA context. rsvd: "
          "max_memory_reserved. nvml: this process's GPU memory. ctx: nvml - rsvd, the "
          "measured CUDA context (memory.context_mb)")

    dry_run.meta_model.cache_clear()
    dry_run._measured.cache_clear()
    toggled = dataclasses.replace(base, model=dataclasses.replace(
        base.model, modules=tuple(m for m in base.model.modules if m != "dsp_simulator")))
    forecast(base, "cuda")
    for label in ("cold", "again"):
        start = time.perf_counter()
        forecast(toggled, "cuda")
        print(f"forecast after a module toggle (dsp_simulator off, {label}): "
              f"{1000 * (time.perf_counter() - start):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("export", "measure", "one"))
    parser.add_argument("data", type=Path)
    parser.add_argument("index", type=int, nargs="?", default=0,
                        help="for 'one': which scenario (measure runs each in a subprocess)")
    args = parser.parse_args()
    if args.phase == "one":
        one(args.data, args.index)
    else:
        (export if args.phase == "export" else measure)(args.data)


if __name__ == "__main__":
    main()
