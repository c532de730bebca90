"""Encoding and cache read-back throughput, next to the training step's.

Shows the data path is never the bottleneck: texts/s when filling the cache
(GoEmotions-length and Scruples-length texts, real rows from ../shared/data),
samples/s reading batches back from the memory-mapped cache, and samples/s
of a local-8gb training step (fwd + bwd + AdamW, fp32 CPU) on those batches.

    .venv/bin/python bench/encode.py [--texts 512] [--anecdotes 128]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config import DataSource, load_profile  # noqa: E402
from redheart.data.batching import BatchPlan, loader, source_lengths  # noqa: E402
from redheart.data.encode import EncoderCache  # noqa: E402
from redheart.data.encoder import TextEncoder  # noqa: E402
from redheart.data.sources import read_source  # noqa: E402
from redheart.model.unified import UnifiedModel  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512, help="GoEmotions texts to encode")
    parser.add_argument("--anecdotes", type=int, default=128, help="Scruples texts to encode")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"bench/encode.py: {DATA} not found; the benchmark reads real data")
    config = load_profile(ROOT / "profiles" / "local-8gb.toml")
    sources = [read_source(DataSource(kind="goemotions", path="goemotions/dev.tsv",
                                      limit=args.texts), DATA),
               read_source(DataSource(kind="scruples_anecdotes",
                                      path="scruples/anecdotes/dev.scruples-anecdotes.jsonl",
                                      limit=args.anecdotes), DATA)]
    encoder = TextEncoder(config.data.encoder, config.data.max_tokens)
    print(f"encoder          {config.data.encoder}, max_tokens {config.data.max_tokens}, "
          f"CPU threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as cache_dir:
        cache = EncoderCache(cache_dir, config.data.encoder, config.data.max_tokens)
        for data, label in zip(sources, ("GoEmotions", "Scruples"), strict=True):
            texts = [e.text for e in data.examples]
            start = time.perf_counter()
            cache.fill(texts, config.data.encode_batch, encoder)
            elapsed = time.perf_counter() - start
            tokens = sum(cache.length(t) for t in texts) / len(texts)
            print(f"encode {label:<10} {len(texts) / elapsed:8.1f} texts/s "
                  f"({len(texts)} texts, {tokens:.0f} tokens each on average)")
        cache = EncoderCache(cache_dir, config.data.encoder, config.data.max_tokens)
        plan = BatchPlan(source_lengths(sources, cache), [len(s.examples) for s in sources],
                         args.batch, seed=0).epoch(0)
        start = time.perf_counter()
        batches = list(loader(sources, cache, plan))
        read_rate = sum(len(b) for b in batches) / (time.perf_counter() - start)
        print(f"read back        {read_rate:8.1f} samples/s (memory-mapped fp16 -> padded fp32 "
              f"batches of {args.batch})")

        torch.manual_seed(0)
        model = UnifiedModel(config.model).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
        long_batches = sorted(batches, key=lambda b: -b.inputs.shape[1])[:4]
        times = []
        for i, batch in enumerate(long_batches):
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            out = model(batch.inputs, batch.mask)
            sum(v.float().mean() for v in out.values()).backward()
            optimizer.step()
            if i:  # the first step warms up
                times.append(time.perf_counter() - start)
        train_rate = args.batch / (sum(times) / len(times))
        print(f"train step       {train_rate:8.1f} samples/s (local-8gb, {model_params(model)}, "
              f"fp32 CPU, longest batches)")
        print(f"read / train     {read_rate / train_rate:8.1f}x (the loader is not the bottleneck "
              f"when > 1)")


def model_params(model: torch.nn.Module) -> str:
    return f"{sum(p.numel() for p in model.parameters()) / 1e6:.0f}M params"


if __name__ == "__main__":
    main()
