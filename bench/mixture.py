"""How often an epoch reads each training source: `[[data.sources]] weight` in numbers.

A weight is a share of the epoch's batches (README, Data), not a per-row
rate, so a small source at the same weight is read many times an epoch.
This prints, per training source of a profile, its rows, its batches, the
share of batches its weight gives it, and the passes over its rows that
epoch 0's actual batch plan (`BatchPlan.epoch`, the trainer's own) makes,
next to the expected value (share x batches per epoch / its batches).

The plan's choice of source for each batch does not depend on text lengths
(they only order rows within a source for bucketing), so rows are ordered by
their length in characters here: no encoder or cache is needed.

    .venv/bin/python bench/mixture.py profiles/cpu-real.toml [--set k=v ...] [--epochs 1]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from redheart.config_load import load_profile
from redheart.data.batching import BatchPlan
from redheart.data.prepare import read_sources
from redheart.data.split import split_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--epochs", type=int, default=1, help="epochs of the plan to count")
    args = parser.parse_args()
    config = load_profile(args.profile, args.overrides)
    sources = read_sources(config, args.profile.resolve().parent,
                           config.data.skip_bad_rows)
    train, _ = split_sources(sources, config.data.eval_fraction)
    lengths = [[len(p.first) + len(p.second) for p in s.pairs] if s.pairs
               else [len(e.text) for e in s.examples] for s in train]
    plan = BatchPlan(lengths, [s.source.weight for s in train], config.train.batch_size,
                     config.run.seed)
    per_epoch = plan.batches_per_epoch()
    read = [0] * len(train)
    for epoch in range(args.epochs):
        for source, rows in plan.epoch(epoch):
            read[source] += len(rows)
    print(f"{args.profile}: {per_epoch:,} batches of {config.train.batch_size} an epoch")
    print(f"{'source':<44} {'rows':>7} {'batches':>7} {'share':>6} {'passes':>7} "
          f"{'expected':>8}")
    for index, data in enumerate(train):
        rows = len(lengths[index])
        batches = -(-rows // config.train.batch_size)
        share = float(plan.weights[index])
        name = f"{data.source.kind} {Path(data.source.path).name}"
        print(f"{name[:44]:<44} {rows:>7,} {batches:>7,} {share:>6.3f} "
              f"{read[index] / rows / args.epochs:>7.2f} {share * per_epoch / batches:>8.2f}")


if __name__ == "__main__":
    main()
