"""Operators a training step dispatches, per top-level module: what an eager GPU step pays for.

A GPU runs each operator as at least one kernel launched from Python through
the dispatcher. A step of many small operators is bound by that host time,
not by the GPU's arithmetic, whatever the GPU. This counts the operators of
one forward + backward of a profile's model at its planned rows and longest
budget, on the `meta` device (no memory and no data needed: the operator
sequence does not depend on values), forward ones by the top-level module
that ran them (ModuleTracker's placement of backward operators changes
from run to run, so backward is one total).

Then it times the host's floor for that sequence: the same structure (every
module, layer and block) with every width cut to 16, 2 rows x 16 tokens, on
this CPU. Its kernels do next to no arithmetic, so its step time is what
Python, autograd and the dispatcher cost a step before a GPU computes or
launches anything.

    .venv/bin/python bench/step_ops.py [profiles/local-8gb.toml] [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.module_tracker import ModuleTracker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config import ModelConfig  # noqa: E402
from redheart.config_load import load_profile  # noqa: E402
from redheart.data.batching import Batch  # noqa: E402
from redheart.memory.dry_run import batch_tokens, meta_batch, meta_model, step_loss  # noqa: E402
from redheart.model.catalog import ExecutionMode  # noqa: E402
from redheart.model.unified import UnifiedModel  # noqa: E402
from redheart.step_shape import step_shape  # noqa: E402

FREE_OPS = {"aten.view.default", "aten._unsafe_view.default", "aten.t.default",
            "aten.transpose.int", "aten.expand.default", "aten.unsqueeze.default",
            "aten.squeeze.dim", "aten.permute.default", "aten.detach.default",
            "aten.alias.default", "aten.slice.Tensor", "aten.select.int",
            "aten._reshape_alias.default", "aten.as_strided.default", "aten.split.Tensor",
            "aten.unbind.int", "aten.squeeze.default", "aten.lift_fresh.default"}
"""Operators that only make views: no kernel runs (dispatch still costs host time)."""


class OpCounter(TorchDispatchMode):
    """Counts operators by the outermost named child of the model running them."""

    def __init__(self, tracker: ModuleTracker) -> None:
        super().__init__()
        self.tracker = tracker
        self.kernels: Counter[str] = Counter()
        self.views: Counter[str] = Counter()
        self.by_op: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        owner = next((p.split(".")[1] for p in self.tracker.parents
                      if p.count(".") >= 1 and p.startswith("UnifiedModel.")), "losses")
        phase = "backward" if self.tracker.is_bw else "forward"
        name = str(func)
        if name in FREE_OPS:
            self.views[f"{owner} {phase}"] += 1
        else:
            self.kernels[f"{owner} {phase}"] += 1
            self.by_op[name] += 1
        return func(*args, **(kwargs or {}))


def step(model, batch, config) -> None:
    """Forward + losses + backward, as the dry run and the FLOP count run it (`step_loss`)."""
    step_loss(model, None, batch, config.train)().backward()
    model.zero_grad(set_to_none=True)


def narrow(cfg: ModelConfig) -> ModelConfig:
    """`cfg`'s structure (layers, blocks, experts, heads, modules) at width 16."""
    widths = {f.name: 16 for f in dataclasses.fields(cfg)
              if f.name.endswith("_dim") and f.name != "input_dim"}
    return dataclasses.replace(cfg, **widths, d_model=4 * cfg.n_heads,
                               dsp_channels=4, dsp_filters=8, dsp_kernel=3, dsp_bands=4)


def host_floor(config, repeats: int) -> float:
    """Median seconds of a forward + backward of the narrowed model on CPU."""
    model = UnifiedModel(narrow(config.model), ExecutionMode.TRAINING).train()
    rows, tokens = 2, 16
    batch = meta_batch(config.model, rows, tokens)
    real = Batch(torch.linspace(-1, 1, rows * tokens * config.model.input_dim)
                 .view(rows, tokens, -1), torch.ones(rows, tokens, dtype=torch.bool))
    for name, target in batch.targets.items():
        real.targets[name] = torch.full(target.shape, 0.25)
        real.present[name] = torch.ones(rows, dtype=torch.bool)
    step(model, real, config)                       # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(model, real, config)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, nargs="?",
                        default=ROOT / "profiles" / "local-8gb.toml")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed meta steps (the median is printed)")
    args = parser.parse_args()
    config = load_profile(args.profile)
    shape = step_shape(config)
    tokens = batch_tokens(config)
    model = meta_model(config.model)
    batch = meta_batch(config.model, shape.rows_per_forward, tokens)
    tracker = ModuleTracker()
    counter = OpCounter(tracker)
    with tracker, counter:
        step(model, batch, config)
    floor = host_floor(config, args.repeats)

    kernels, views = sum(counter.kernels.values()), sum(counter.views.values())
    print(f"{args.profile.name}: one forward + backward of {shape.rows_per_forward} rows x "
          f"{tokens} tokens (an example batch; a dilemma batch runs the model twice)")
    print(f"operators: {kernels} that run kernels, {views} that only make views")
    print(f"host floor (same structure, widths 16, 2 rows x 16 tokens, CPU, "
          f"{torch.get_num_threads()} threads): median {floor * 1000:.0f} ms a step of "
          f"{args.repeats}, {floor / (kernels + views) * 1e6:.1f} us an operator")
    forward = {k.rsplit(" ", 1)[0]: n for k, n in counter.kernels.items()
               if k.endswith(" forward")}
    backward = sum(n for k, n in counter.kernels.items() if k.endswith(" backward"))
    print(f"backward: {backward} operators; forward by module:")
    for owner, count in sorted(forward.items(), key=lambda item: -item[1]):
        print(f"  {owner:<22} {count:>5}  {count / kernels:>6.1%} of the step")
    print("most frequent operators: " + ", ".join(
        f"{name.removeprefix('aten.')} {count}" for name, count in counter.by_op.most_common(8)))


if __name__ == "__main__":
    main()
