"""How far the dilemma pairs can be learned: from the frozen encoder, and with a trained one.

`validate`'s hedonic pairwise accuracy on `cpu-real` is level with the
frozen-encoder probe. This bench says whether that is the data's limit or
the frozen encoder's, on the held-out pairs `validate` scores (the profile's
`eval_fraction`, the same hash):

- a second panel of annotators (`human_perf_label` of the published rows)
  against the gold majority: what people agree on;
- the Reddit verdict on the anecdote each action was taken from (its WRONG
  vote share): whether the anecdotes' own labels already decide the pair;
- logistic regression on the difference of the two actions' mean-pooled
  frozen states, as `validate`'s probe (standardised), over a sweep of C;
- the encoder itself fine-tuned on the training pairs alone (Bradley-Terry on
  a linear score of its mean-pooled state), accuracy after each epoch.

    .venv/bin/python bench/pairs_ceiling.py [--profile profiles/cpu-real.toml] [--epochs 4]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config_load import load_profile  # noqa: E402
from redheart.data.encode import SourceFeaturizers  # noqa: E402
from redheart.data.encoder import TextEncoder, tokenize  # noqa: E402
from redheart.data.example import DilemmaPair  # noqa: E402
from redheart.data.prepare import encode_sources, read_sources  # noqa: E402
from redheart.data.split import splits  # noqa: E402


def _published(base: Path, kind: str, config) -> list[dict]:
    """The published rows of every source of a kind, for fields the readers drop."""
    rows = []
    for source in config.data.sources:
        if source.kind == kind:
            with (base / source.path).open() as lines:
                rows.extend(json.loads(line) for line in lines if line.strip())
    return rows


def _action(text: str) -> str:
    """An action description as dilemmas and anecdotes both spell it."""
    return text.strip().lower()


def _accuracy(predicted_first_worse: np.ndarray, pairs: list[DilemmaPair]) -> float:
    return float(np.mean(predicted_first_worse == np.asarray([p.less_ethical == 0
                                                              for p in pairs])))


def _fine_tune(config, train: list[DilemmaPair], dev: list[DilemmaPair], epochs: int,
               batch: int, lr: float, seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    encoder = TextEncoder(config.data.encoder, config.data.max_tokens)
    score = torch.nn.Linear(encoder.hidden_size, 1)
    model = encoder.model.train()
    optimizer = torch.optim.AdamW([*model.parameters(), *score.parameters()], lr=lr,
                                  weight_decay=0.01)

    def pooled(texts: list[str]) -> torch.Tensor:
        ids, mask = tokenize(encoder.tokenizer, texts, config.data.max_tokens)
        states = encoder.states(ids, mask)
        weights = mask.unsqueeze(-1).float()
        return (states * weights).sum(1) / weights.sum(1)

    def margin(pairs: list[DilemmaPair]) -> torch.Tensor:
        """score(first) - score(second): > 0 says the first is the less ethical."""
        return (score(pooled([p.first for p in pairs]))
                - score(pooled([p.second for p in pairs]))).squeeze(-1)

    order = list(range(len(train)))
    shuffle = random.Random(seed)
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        model.train()
        shuffle.shuffle(order)
        for start in range(0, len(order), batch):
            chosen = [train[i] for i in order[start:start + batch]]
            target = torch.tensor([float(p.less_ethical == 0) for p in chosen])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(margin(chosen), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            said = torch.cat([margin(dev[i:i + 256]) for i in range(0, len(dev), 256)])
        print(f"encoder fine-tuned on the training pairs, epoch {epoch}: accuracy "
              f"{_accuracy(said.numpy() > 0, dev):.3f} ({time.perf_counter() - started:.0f} s)",
              flush=True)


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path, default=ROOT / "profiles" / "cpu-real.toml")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--epochs", type=int, default=4,
                        help="passes of the fine-tuned encoder over the training pairs (0: none)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = load_profile(args.profile, args.overrides)
    base = args.profile.resolve().parent
    sources = [s for s in read_sources(config, base) if s.source.kind == "scruples_dilemmas"]
    parts = splits(sources, config.data.eval_fraction)
    train = [p for s in parts.train for p in s.pairs]
    dev = [p for s in parts.dev for p in s.pairs]
    if not train or not dev:
        sys.exit("bench/pairs_ceiling.py: the profile needs dilemma pairs on both sides of "
                 "[data] eval_fraction (or a dev dilemma source)")
    print(f"dilemma pairs: {len(train)} training, {len(dev)} held out (what validate scores)")
    side = np.mean([p.less_ethical == 0 for p in train])
    print(f"majority side of the training pairs: {max(side, 1 - side):.3f} of training")

    raw = {(r["actions"][0]["description"], r["actions"][1]["description"]): r
           for r in _published(base, "scruples_dilemmas", config)}
    second = [raw[(p.first, p.second)]["human_perf_label"] for p in dev
              if (p.first, p.second) in raw]
    if len(second) == len(dev):
        print(f"a second panel of annotators against the gold majority: accuracy "
              f"{_accuracy(np.asarray(second) == 0, dev):.3f}")

    verdict = {}
    for row in _published(base, "scruples_anecdotes", config):
        votes = row.get("binarized_label_scores") or {}
        total = votes.get("RIGHT", 0) + votes.get("WRONG", 0)
        if row.get("action") and total:
            verdict[_action(row["action"]["description"])] = votes["WRONG"] / total

    def shares(pair: DilemmaPair) -> tuple[float | None, float | None]:
        return verdict.get(_action(pair.first)), verdict.get(_action(pair.second))

    known = [p for p in dev if None not in shares(p) and len(set(shares(p))) == 2]
    if known:
        worse = np.asarray([shares(p)[0] > shares(p)[1] for p in known])
        print(f"the Reddit WRONG share of each action's own anecdote: accuracy "
              f"{_accuracy(worse, known):.3f} on the {len(known)} held-out pairs whose "
              f"actions both come from an anecdote with different shares")

    encode_sources(config, sources)
    states = SourceFeaturizers(config, read=sources)

    def difference(pairs: list[DilemmaPair]) -> np.ndarray:
        def pool(texts: list[str]) -> np.ndarray:
            return np.stack([np.asarray(states.get(t), dtype=np.float32).mean(0) for t in texts])
        return (pool([p.first for p in pairs]) - pool([p.second for p in pairs])).astype(np.float64)

    train_x, dev_x = difference(train), difference(dev)
    train_y = np.asarray([p.less_ethical == 0 for p in train])
    for c in (0.001, 0.01, 0.1, 1.0):
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        said = probe.fit(train_x, train_y).predict(dev_x)
        print(f"logistic regression on frozen features, C {c:<5}: accuracy "
              f"{_accuracy(said, dev):.3f}" + ("  (validate's probe)" if c == 1.0 else ""))
    if args.epochs:
        _fine_tune(config, train, dev, args.epochs, args.batch, args.lr, args.seed)


if __name__ == "__main__":
    main()
