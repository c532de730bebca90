"""Encoding and cache read-back throughput, next to the training step's, and what longer
anecdotes cost.

Shows the data path is never the bottleneck: texts/s when filling the cache
(GoEmotions-length and Scruples-length texts, real rows from ../shared/data),
samples/s reading batches back from the memory-mapped cache, and samples/s
of a local-8gb training step (fwd + bwd + AdamW, fp32 CPU) on those batches.

Then the price of reading Scruples anecdotes with a longer budget: texts/s
encoding them at 128 tokens ("head") and at cpu-real's own anecdote budget,
the time to encode the whole anecdote source (train + dev) at each,
projected from that rate, and a cpu-real training step on full anecdote
batches at each length, with what that adds to one cpu-real epoch. Numbers
from a busy machine are slower than an idle one's: the load is printed.

    .venv/bin/python bench/encode.py [--texts 512] [--anecdotes 256] [--long N]
        [--no-local-step]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config import (  # noqa: E402
    Config,
    DataSource,
    TokenBudget,
    token_budget,
)
from redheart.config_load import load_profile  # noqa: E402
from redheart.data.batching import BatchPlan, loader, source_lengths  # noqa: E402
from redheart.data.encode import EncoderCache  # noqa: E402
from redheart.data.encoder import TextEncoder  # noqa: E402
from redheart.data.sources import SourceData, read_source  # noqa: E402
from redheart.model.unified import UnifiedModel  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
ANECDOTES = ("scruples/anecdotes/train.scruples-anecdotes.jsonl",
             "scruples/anecdotes/dev.scruples-anecdotes.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512, help="GoEmotions texts to encode")
    parser.add_argument("--anecdotes", type=int, default=256, help="Scruples texts to encode")
    parser.add_argument("--long", type=int, default=0,
                        help="anecdote budget to compare with 128 (default: cpu-real's)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default: torch's); 1 gives steadier figures "
                             "on a machine whose other cores are busy")
    parser.add_argument("--repeats", type=int, default=3,
                        help="cpu-real steps per length, alternating; the fastest counts")
    parser.add_argument("--no-local-step", action="store_true",
                        help="skip the 329M local-8gb training step (slow on a small CPU)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not DATA.is_dir():
        sys.exit(f"bench/encode.py: {DATA} not found; the benchmark reads real data")
    config = load_profile(ROOT / "profiles" / "local-8gb.toml")
    cpu_real = load_profile(ROOT / "profiles" / "cpu-real.toml")
    sources = [read_source(DataSource(kind="goemotions", path="goemotions/dev.tsv",
                                      limit=args.texts), DATA),
               read_source(DataSource(kind="scruples_anecdotes", path=ANECDOTES[1],
                                      limit=args.anecdotes), DATA)]
    encoder = TextEncoder(config.data.encoder, config.data.max_tokens)
    print(f"encoder          {config.data.encoder}, CPU threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    long = TokenBudget(args.long, "head_tail") if args.long else anecdote_budget(cpu_real)
    with tempfile.TemporaryDirectory() as cache_dir:
        cache = EncoderCache(cache_dir, config.data.encoder, config.data.max_tokens)
        for data, label in zip(sources, ("GoEmotions", "Scruples"), strict=True):
            encode(cache, [e.text for e in data.examples], config, encoder, label)
        cache = EncoderCache(cache_dir, config.data.encoder, config.data.max_tokens)
        plan = BatchPlan(source_lengths(sources, cache), [len(s.examples) for s in sources],
                         args.batch, seed=0).epoch(0)
        start = time.perf_counter()
        batches = list(loader(sources, cache, plan))
        read_rate = sum(len(b) for b in batches) / (time.perf_counter() - start)
        print(f"read back        {read_rate:8.1f} samples/s (memory-mapped fp16 -> padded fp32 "
              f"batches of {args.batch})")
        anecdote_cost(f"{cache_dir}/anecdotes", sources[1], cpu_real, encoder, long,
                      args.repeats)
    if not args.no_local_step:
        local_step(config, batches, args.batch, read_rate)


def anecdote_budget(config: Config) -> TokenBudget:
    """The budget of the profile's first scruples_anecdotes source."""
    source = next(s for s in config.data.sources if s.kind == "scruples_anecdotes")
    return token_budget(config.data, source)


def encode(cache: EncoderCache, texts: list[str], config: Config, encoder: TextEncoder,
           label: str) -> float:
    """Fill `cache` with `texts`; prints and returns texts/s."""
    start = time.perf_counter()
    cache.fill(texts, config.data.encode_batch, encoder)
    rate = len(texts) / (time.perf_counter() - start)
    tokens = sum(cache.length(t) for t in texts) / len(texts)
    print(f"encode {label:<10} {rate:8.1f} texts/s ({len(texts)} texts, {tokens:.0f} tokens "
          f"each on average, {cache.max_tokens} {cache.truncation})")
    return rate


def anecdote_cost(cache_dir: str, data: SourceData, cpu_real: Config, encoder: TextEncoder,
                  long: TokenBudget, repeats: int) -> None:
    """Encoding and cpu-real training cost of the anecdotes at 128 tokens and at `long`.

    Steps alternate between the two lengths and the fastest of `repeats`
    counts, so a burst of load elsewhere does not land on one length only.
    """
    texts = [e.text for e in data.examples]
    total = sum(count_rows(DATA / path) for path in ANECDOTES)
    budgets = (TokenBudget(128, "head"), long)
    print(f"\nScruples anecdotes at {budgets[0].label()} vs {long.label()} "
          f"({len(texts)} dev texts; totals for all {total} train + dev anecdotes are "
          f"projected from the rate)")
    rates, batches = [], []
    batch_size = cpu_real.train.batch_size
    for budget in budgets:
        cache = EncoderCache(cache_dir, cpu_real.data.encoder, budget.max_tokens,
                             truncation=budget.truncation)
        rates.append(encode(cache, texts, cpu_real, encoder, "Scruples"))
        print(f"  encode all {total} anecdotes: {total / rates[-1] / 60:6.1f} min")
        plan = BatchPlan(source_lengths([data], cache), [1.0], batch_size, seed=0).epoch(0)
        batches.append(max(loader([data], cache, plan), key=lambda b: b.inputs.shape[1]))
    torch.manual_seed(0)
    model = UnifiedModel(cpu_real.model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    step_seconds(model, optimizer, batches[:1])                           # warm-up
    steps = [min(times) for times in zip(*[[step_seconds(model, optimizer, [batch])
                                            for batch in batches] for _ in range(repeats)],
                                         strict=True)]
    for batch, seconds in zip(batches, steps, strict=True):
        print(f"cpu-real step on {len(batch)} anecdotes of {batch.inputs.shape[1]} tokens: "
              f"{seconds:.3f} s ({len(batch) / seconds:.1f} samples/s, {model_params(model)})")
    per_epoch = anecdote_batches_per_epoch(cpu_real)
    extra_encode = total / rates[1] - total / rates[0]
    extra_train = per_epoch * (steps[1] - steps[0])
    print(f"{long.label()} instead of 128: encoding +{extra_encode / 60:.1f} min; training "
          f"+{extra_train / 60:.1f} min per cpu-real epoch (about {per_epoch} anecdote "
          f"batches of {batch_size})")


def count_rows(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def anecdote_batches_per_epoch(config: Config) -> int:
    """Expected anecdote batches in one epoch: batches drawn by source weight (BatchPlan).

    An epoch has one batch per `batch_size` rows of every training source
    (less the eval_fraction held out of kinds without a dev source), each
    drawn from a source with probability proportional to its weight.
    """
    train = [s for s in config.data.sources if s.split == "train"]
    with_dev = {s.kind for s in config.data.sources if s.split == "dev"}
    batches = 0
    for source in train:
        rows = count_rows(Path(config.source).parent / source.path)
        if source.kind not in with_dev:
            rows = int(rows * (1 - config.data.eval_fraction))
        batches += math.ceil(rows / config.train.batch_size)
    share = sum(s.weight for s in train if s.kind == "scruples_anecdotes") / sum(
        s.weight for s in train)
    return round(batches * share)


def step_seconds(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 batches: list) -> float:
    """Mean seconds of a fwd + bwd + AdamW step; with several batches the first (warm-up)
    is not counted."""
    times = []
    for batch in batches:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        out = model(batch.inputs, batch.mask)
        sum(v.float().mean() for v in out.values()).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    times = times[1:] or times
    return sum(times) / len(times)


def local_step(config: Config, batches: list, batch_size: int, read_rate: float) -> None:
    torch.manual_seed(0)
    model = UnifiedModel(config.model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    long_batches = sorted(batches, key=lambda b: -b.inputs.shape[1])[:4]
    train_rate = batch_size / step_seconds(model, optimizer, long_batches)
    print(f"\ntrain step       {train_rate:8.1f} samples/s (local-8gb, {model_params(model)}, "
          f"fp32 CPU, longest batches)")
    print(f"read / train     {read_rate / train_rate:8.1f}x (the loader is not the bottleneck "
          f"when > 1)")


def model_params(model: torch.nn.Module) -> str:
    return f"{sum(p.numel() for p in model.parameters()) / 1e6:.0f}M params"


if __name__ == "__main__":
    main()
