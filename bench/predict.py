"""`redheart predict` throughput next to the bare encoder's, on real GoEmotions dev texts.

The text encoder is the floor of any prediction's cost; the goal is that
Red Heart on top costs under 30% (predict >= 0.7 x the encoder's texts/s on
CPU). Both run in this process on the same texts, in the same length-sorted
batches, alternating, and the faster of the repetitions counts.

    .venv/bin/python bench/predict.py [--model PATH ...] [--texts 1000] [--repeats 2]

Without --model it trains two real checkpoints first (a few steps each,
into a temporary folder): the quickstart model (~5M) on the embedded sample
set and the cpu-real model (~12M) on 64 rows of each real source.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config import DataSource  # noqa: E402
from redheart.data.sources import read_source  # noqa: E402
from redheart.inference.predictor import load  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TRAIN = {"quickstart": ["profiles/quickstart.toml", "--set", "train.max_steps=20"],
         "cpu-real": ["profiles/cpu-real.toml", "--samples", "64", "--set",
                      "train.max_steps=2", "--set", "train.epochs=1"]}


def train_checkpoints(folder: Path) -> list[Path]:
    runs = []
    for name, args in TRAIN.items():
        run_dir = folder / name
        subprocess.run([sys.executable, "-m", "redheart", "run", *args, "--run-dir",
                        str(run_dir), "--quiet", "--set", f'data.cache_dir="{folder}/cache"'],
                       cwd=ROOT, check=True)
        runs.append(run_dir)
    return runs


def encoder_rate(predictor, texts: list[str]) -> float:
    """texts/s of the encoder alone, batched exactly as predict batches."""
    lengths = predictor.token_counts(texts)
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    size = predictor.batch_size
    start = time.perf_counter()
    for begin in range(0, len(order), size):
        predictor.states([texts[i] for i in order[begin:begin + size]])
    return len(texts) / (time.perf_counter() - start)


def predict_rate(predictor, texts: list[str]) -> float:
    start = time.perf_counter()
    predictor.predict(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=Path, help="checkpoint, run or export")
    parser.add_argument("--texts", type=int, default=1000, help="GoEmotions dev texts")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"bench/predict.py: {DATA} not found; the benchmark reads real texts")
    texts = [e.text for e in read_source(DataSource(kind="goemotions", path="goemotions/dev.tsv",
                                                    limit=args.texts), DATA).examples]
    with tempfile.TemporaryDirectory() as tmp:
        models = args.model or train_checkpoints(Path(tmp))
        print(f"{len(texts)} GoEmotions dev texts, batch {args.batch_size}, CPU threads "
              f"{torch.get_num_threads()}, best of {args.repeats}")
        for model in models:
            predictor = load(str(model), batch_size=args.batch_size, show_all=True)
            params = sum(p.numel() for p in predictor.model.parameters()) / 1e6
            predictor.predict(texts[:64])                      # warm-up
            encoder, full = 0.0, 0.0
            for _ in range(args.repeats):
                encoder = max(encoder, encoder_rate(predictor, texts))
                full = max(full, predict_rate(predictor, texts))
            print(f"{predictor.source.config.run.name:<12} {params:5.1f}M  encoder "
                  f"{encoder:7.1f} texts/s  predict {full:7.1f} texts/s  ratio "
                  f"{full / encoder:.2f}")


if __name__ == "__main__":
    main()
