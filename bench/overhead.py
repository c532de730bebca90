"""Engine overhead: samples/s of Trainer.fit against a bare PyTorch loop, one process.

Both run the same model (quickstart profile), the same batches (the
embedded sample set, same plan) and the same losses; the engine adds what a
run really has: per-module gradient norms and non-finite checks, step
events, the control channel, checkpoints at the profile's interval and the
memory telemetry sampler.
Rounds alternate bare / engine so drifting machine speed hits both alike;
medians are compared.

    .venv/bin/python bench/overhead.py [--steps 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config_load import load_profile  # noqa: E402
from redheart.data.batching import loader  # noqa: E402
from redheart.data.encode import EncoderCache  # noqa: E402
from redheart.data.prepare import prepare  # noqa: E402
from redheart.data.split import split_sources  # noqa: E402
from redheart.memory.telemetry import TelemetrySampler  # noqa: E402
from redheart.runs.events import EventWriter  # noqa: E402
from redheart.runs.run_dir import prepare_run_dir  # noqa: E402
from redheart.train.trainer import Trainer  # noqa: E402


def bare_loop(trainer: Trainer, steps: int) -> float:
    """The same forward, losses, backward, clip and AdamW, with nothing around them."""
    model, optimizer = trainer.model, trainer.optimizer
    batches = loader(trainer.train_sources, trainer.featurizer, trainer.plan.epoch(0))
    samples, start, done = 0, time.perf_counter(), 0
    while done < steps:
        for batch in batches:
            losses = trainer._compute(trainer._forward(batch))   # the same loss math
            trainer._combine(losses).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            samples += len(batch)
            done += 1
            if done == steps:
                break
    return samples / (time.perf_counter() - start)


def engine(trainer: Trainer, steps: int) -> float:
    trainer.state = dataclasses.replace(trainer.state, step=0, epoch=0, batch_index=0)
    trainer.total_steps = steps
    counted = []
    events = trainer.events
    telemetry = TelemetrySampler(lambda fields: events.emit("memory", **fields), trainer.device)
    start = time.perf_counter()
    with telemetry:                                # as `redheart run` does
        trainer.fit(lambda result, state: counted.append(result.samples))
    return sum(counted) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = load_profile(ROOT / "profiles" / "quickstart.toml",
                              [f'data.cache_dir="{tmp}/cache"', "data.eval_fraction=0"])
        sources = prepare(config, ROOT / "profiles").sources
        cache = EncoderCache(f"{tmp}/cache", config.data.encoder, config.data.max_tokens)
        train, _ = split_sources(sources, 0.0)
        run_dir = Path(tmp) / "run"
        prepare_run_dir(run_dir, config, resuming=False)
        trainer = Trainer(config, train, [], cache, EventWriter(run_dir / "events.jsonl"),
                          run_dir)
        bare_loop(trainer, 10)                     # warm-up
        bare, eng = [], []
        for _ in range(args.rounds):
            bare.append(bare_loop(trainer, args.steps))
            eng.append(engine(trainer, args.steps))
        checkpoints = len(list((run_dir / "checkpoints").glob("step-*")))
    params = sum(p.numel() for p in trainer.model.parameters()) / 1e6
    print(f"model            quickstart, {params:.1f}M params, CPU threads "
          f"{torch.get_num_threads()}, {args.steps} steps x {args.rounds} rounds")
    print(f"bare loop        {statistics.median(bare):8.1f} samples/s (median; rounds "
          f"{', '.join(f'{x:.1f}' for x in bare)})")
    print(f"engine           {statistics.median(eng):8.1f} samples/s (median; rounds "
          f"{', '.join(f'{x:.1f}' for x in eng)}); events, checkpoints every "
          f"{config.checkpoint.every_steps} steps ({checkpoints} kept), control channel, "
          f"1 Hz memory telemetry")
    print(f"ratio            {statistics.median(eng) / statistics.median(bare):.3f} "
          f"(goal >= 0.97)")


if __name__ == "__main__":
    main()
