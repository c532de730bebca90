"""`[train] compile` against eager on this CPU: the same steps, their losses, and the cost.

Trains `profiles/quickstart.toml` (every module, 5M parameters) on the
embedded sample set twice from the same seed, eager and with inductor, with
dropout off (inductor draws dropout masks from its own generator, so with
dropout on the two runs differ by design). Prints each step's total loss and
gradient norm side by side, the largest relative difference over every task
loss, how many graphs were compiled and the seconds of the steps that
compiled them, and the median time of the other steps against eager's
median over the same steps. The test suite checks the compiled path with
dynamo's eager backend; inductor's code generation is what this adds.
Usage:

    .venv/bin/python bench/compile_cpu.py [--steps 24]
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
from redheart.train.compiled_step import graphs_compiled  # noqa: E402
from redheart.train.trainer import StepResult, Trainer  # noqa: E402

TOLERANCE = 1e-5


def train(config, sources, featurizer, steps: int
          ) -> tuple[list[StepResult], list[float], list[bool]]:
    """Each step's result and seconds, and whether it compiled a graph."""
    train_sources, eval_sources = split_sources(sources, config.data.eval_fraction)
    trainer = Trainer(config, train_sources, eval_sources, featurizer)
    batches = loader(train_sources, featurizer, trainer.plan.epoch(0))
    results, seconds, compiled = [], [], []
    for batch, _ in zip(batches, range(steps), strict=False):
        graphs = graphs_compiled()
        start = time.perf_counter()
        results.append(trainer.train_step(batch))
        seconds.append(time.perf_counter() - start)
        compiled.append(graphs_compiled() > graphs)
    if config.train.compile and not trainer.compiler.active:
        sys.exit("compilation failed and the run fell back to eager: nothing to compare")
    return results, seconds, compiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        config = load_profile(ROOT / "profiles" / "quickstart.toml", [
            f'data.cache_dir="{cache}"', "model.dropout=0.0", "model.attention_dropout=0.0"])
        report = prepare(config, ROOT / "profiles")
        featurizer = EncoderCache(config.data.cache_dir, config.data.encoder,
                                  config.data.max_tokens)
        eager, eager_s, _ = train(config, report.sources, featurizer, args.steps)
        compiled_config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, compile=True))
        compiled, compiled_s, compiling = train(compiled_config, report.sources, featurizer,
                                                args.steps)

    print(f"quickstart, fp32, CPU threads {torch.get_num_threads()}, dropout 0, "
          f"{args.steps} steps from the same seed")
    print(f"{'step':>4}  {'eager loss':>12}  {'compiled loss':>13}  {'eager |g|':>10}  "
          f"{'compiled |g|':>12}")
    worst = 0.0
    for index, (a, b) in enumerate(zip(eager, compiled, strict=True), 1):
        print(f"{index:>4}  {a.loss['total']:>12.6f}  {b.loss['total']:>13.6f}  "
              f"{a.grad_norm:>10.5f}  {b.grad_norm:>12.5f}")
        for name, value in a.loss.items():
            worst = max(worst, abs(b.loss[name] - value) / max(abs(value), 1e-12))
        worst = max(worst, abs(b.grad_norm - a.grad_norm) / max(a.grad_norm, 1e-12))
    print(f"largest relative difference (every task loss and |g|): {worst:.2e} "
          f"({'within' if worst <= TOLERANCE else 'OUTSIDE'} {TOLERANCE:.0e})")
    steady = [i for i, c in enumerate(compiling) if not c and i > 0]
    print(f"graphs compiled: {graphs_compiled()}, in {sum(compiling)} steps taking "
          f"{sum(t for t, c in zip(compiled_s, compiling, strict=True) if c):.0f} s")
    if steady:
        print(f"median of the {len(steady)} other steps (the first left out): eager "
              f"{statistics.median(eager_s[i] for i in steady):.3f} s, compiled "
              f"{statistics.median(compiled_s[i] for i in steady):.3f} s")
    else:
        print("every step compiled a graph: raise --steps")


if __name__ == "__main__":
    main()
