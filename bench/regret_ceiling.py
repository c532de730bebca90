"""How far frozen-encoder features and the votes themselves let regret be predicted.

Two numbers put `validate`'s regret Pearson r in context:

- the noise ceiling: the correlation a perfect predictor of each anecdote's
  true WRONG rate could reach with the observed vote share, given the
  binomial noise of a share of n votes (var p(1-p)/n);
- ridge regressions of the vote share on the mean-pooled frozen encoder
  states (the cache `cpu-real` trains on), over a sweep of alphas: what the
  frozen features carry linearly;
- the same on tf-idf word n-grams of the texts, and the mean of both: whether
  what the frozen encoder misses is in the words themselves;
- for each, the F1 of WRONG (r > 0.5) at the best threshold on dev itself:
  what no threshold fitted on training rows can exceed, so whether the
  WRONG decision is limited by its calibration or by the ranking.

    .venv/bin/python bench/regret_ceiling.py [--profile profiles/cpu-real.toml] [--set k=v ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config_load import load_profile  # noqa: E402
from redheart.data import targets  # noqa: E402
from redheart.data.encode import SourceFeaturizers  # noqa: E402
from redheart.data.prepare import encode_sources, read_sources  # noqa: E402
from redheart.train.metrics import WRONG_ABOVE  # noqa: E402
from redheart.train.regret_decision import best_threshold  # noqa: E402


def _rows(profile: Path, path: str):
    """The published rows of a source file, for their raw vote counts."""
    file = Path(path) if Path(path).is_absolute() else profile.resolve().parent / path
    with file.open() as lines:
        yield from (json.loads(line) for line in lines if line.strip())


def noise_ceiling(share: np.ndarray, votes: np.ndarray) -> float:
    noise = float(np.mean(share * (1 - share) / np.maximum(votes - 1, 1)))
    return float(np.sqrt(max(0.0, 1 - noise / share.var())))


def main() -> None:
    from scipy.stats import pearsonr
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path, default=ROOT / "profiles" / "cpu-real.toml")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args()
    config = load_profile(args.profile, args.overrides)
    sources = [s for s in read_sources(config, args.profile.resolve().parent)
               if s.source.kind == "scruples_anecdotes"]
    encode_sources(config, sources)
    states = SourceFeaturizers(config, read=sources)
    split = {name: [e for s in sources if s.source.split == name for e in s.examples
                    if e.regret is not None] for name in ("train", "dev")}
    if not split["train"] or not split["dev"]:
        sys.exit("bench/regret_ceiling.py: the profile needs train and dev anecdote sources")
    dev_share = np.asarray([e.regret for e in split["dev"]])
    right_wrong = np.asarray([targets.right_wrong(row["label_scores"])
                              for s in sources if s.source.split == "dev"
                              for row in _rows(args.profile, s.source.path)])
    right_wrong = right_wrong[right_wrong.sum(1) > 0]
    votes = right_wrong.sum(1)
    observed = right_wrong[:, 1] / votes
    print(f"dev anecdotes {len(observed)}, median RIGHT + WRONG votes {np.median(votes):.0f}, "
          f"share with <= 5 votes {np.mean(votes <= 5):.2f}")
    print(f"noise ceiling of Pearson r with the observed vote share: "
          f"{noise_ceiling(observed, votes):.3f}")

    def pooled(examples):
        return np.stack([np.asarray(states.get(e.text), dtype=np.float32).mean(0)
                         for e in examples])

    scaler = StandardScaler().fit(train_x := pooled(split["train"]))
    train_x, dev_x = scaler.transform(train_x), scaler.transform(pooled(split["dev"]))
    train_y = np.asarray([e.regret for e in split["train"]])

    dev_wrong = dev_share > WRONG_ABOVE

    def report(name: str, predicted: np.ndarray) -> None:
        cut = best_threshold(predicted, dev_wrong)
        best = f1_score(dev_wrong, predicted > cut) if cut is not None else float("nan")
        print(f"{name}: Pearson r {pearsonr(predicted, dev_share)[0]:.3f}, MAE "
              f"{np.mean(np.abs(predicted - dev_share)):.3f}, WRONG F1 at dev's own best "
              f"threshold {best:.3f}")

    frozen = {}
    for alpha in (1, 10, 100, 1000, 3000):
        frozen[alpha] = Ridge(alpha=alpha).fit(train_x, train_y).predict(dev_x)
        report(f"ridge on frozen features, alpha {alpha:>4}", frozen[alpha])
    # Words alone, without the encoder: does a bag of n-grams see what MiniLM misses?
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=200_000,
                            sublinear_tf=True)
    train_words = words.fit_transform([e.text for e in split["train"]])
    dev_words = words.transform([e.text for e in split["dev"]])
    lexical = Ridge(alpha=10).fit(train_words, train_y).predict(dev_words)
    report("ridge on tf-idf word 1-2-grams, alpha 10", lexical)
    report("mean of that and frozen alpha 3000", (lexical + frozen[3000]) / 2)


if __name__ == "__main__":
    main()
