"""`redheart data stats`: what each source teaches, before any training.

The Ekman class frequencies make the joy bias visible (and justify the
class weights of the focal loss); the regret and hedonic distributions and
text lengths in tokens tell whether max_tokens and the batch size suit the
data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from redheart.config import DataConfig, token_budget
from redheart.data.encoder import resolve_encoder_dir
from redheart.data.example import Example
from redheart.data.sources import SourceData
from redheart.tasks import EKMAN, SURD


def _quantiles(values: list[float]) -> dict[str, float]:
    q = np.quantile(np.asarray(values), [0.1, 0.5, 0.9])
    return {"mean": float(np.mean(values)), "p10": float(q[0]), "p50": float(q[1]),
            "p90": float(q[2])}


def source_stats(data: SourceData, token_lengths: list[int]) -> dict[str, Any]:
    examples = data.examples
    tasks: dict[str, Any] = {}
    emotions = [e.emotion for e in examples if e.emotion is not None]
    if emotions:
        mass = np.sum(np.asarray(emotions), axis=0)
        tasks["emotion"] = {"count": len(emotions),
                            "class_freq": {n: float(m / mass.sum()) for n, m in zip(EKMAN, mass,
                                                                                    strict=True)}}
    hedonic = [e.hedonic for e in examples if e.hedonic is not None]
    labelled = sum(1 for e in examples if e.hedonic is not None or e.bentham is not None)
    if labelled or data.pairs:
        tasks["bentham"] = {"count": labelled,
                            "with_dims": sum(1 for e in examples if e.bentham is not None),
                            "pairs": len(data.pairs)}
        if hedonic:
            tasks["bentham"]["hedonic_value"] = _quantiles(hedonic)
    regrets = [e.regret for e in examples if e.regret is not None]
    if regrets:
        tasks["regret"] = {"count": len(regrets), **_quantiles(regrets)}
    surds = [e.surd for e in examples if e.surd is not None]
    if surds:
        tasks["surd"] = {"count": len(surds),
                         "mean": dict(zip(SURD, np.mean(np.asarray(surds), 0).tolist(),
                                          strict=True)),
                         "r_log_votes": surd_vote_correlation(examples)}
    lengths = np.asarray(token_lengths) if token_lengths else np.zeros(1)
    return {"kind": data.source.kind, "path": str(data.path),
            "rows": len(examples) + len(data.pairs), "bad_rows": data.bad.count,
            "tasks": tasks,
            "tokens": {"p50": int(np.percentile(lengths, 50)),
                       "p90": int(np.percentile(lengths, 90)),
                       "p99": int(np.percentile(lengths, 99)), "max": int(lengths.max())}}


def surd_vote_correlation(examples: list[Example]) -> dict[str, float | None] | None:
    """Pearson r of each SURD share with log(total votes), over rows that have both.

    A target derived from votes should describe how the votes split, not how
    many there were: an |r| near 1 says the share mostly counts the voters
    (architecture.md §7). None without vote counts (e.g. SURD given in a JSONL file);
    a share or count that does not vary has no correlation (None).
    """
    rows = [(e.surd, e.votes) for e in examples if e.surd is not None and e.votes]
    if len(rows) < 2:
        return None
    shares = np.asarray([surd for surd, _ in rows], dtype=np.float64)
    log_votes = np.log(np.asarray([votes for _, votes in rows], dtype=np.float64))
    return {name: _pearson(shares[:, i], log_votes) for i, name in enumerate(SURD)}


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def token_lengths(texts: list[str], encoder: str) -> list[int]:
    """Untruncated token counts (tokenizer only; the encoder is not run)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_dir(encoder), local_files_only=True)
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=True,
                                          verbose=False)["input_ids"]]


def held_out(sources: list[SourceData], eval_fraction: float) -> dict[int, int]:
    """Rows of each training source (by id of its DataSource) that `eval_fraction` holds
    out for dev, as the trainer splits them: they are evaluated on, never trained on."""
    from redheart.data.split import splits

    return {id(part.source): len(part.examples) + len(part.pairs)
            for part in splits(sources, eval_fraction).dev if part.source.split == "train"}


def data_stats(sources: list[SourceData], data_config: DataConfig) -> dict[str, Any]:
    """Per source: its stats, its split (and the rows held out of it for dev), its token
    budget and the share of its texts that budget cuts."""
    out = []
    kept_apart = held_out(sources, data_config.eval_fraction)
    for data in sources:
        lengths = token_lengths(data.texts(), data_config.encoder)
        stats = source_stats(data, lengths)
        stats.update(split=data.source.split, held_out=kept_apart.get(id(data.source), 0))
        budget = token_budget(data_config, data.source)
        stats["tokens"].update(
            max_tokens=budget.max_tokens, truncation=budget.truncation,
            cut=sum(n > budget.max_tokens for n in lengths) / len(lengths) if lengths else 0.0)
        out.append(stats)
    return {"sources": out}
