"""Training and evaluation sources of a profile.

Sources marked `split = "dev"` are evaluation data. For a training source
whose kind has no dev source, `[data] eval_fraction` of its rows is held out,
chosen by a hash of the text: stable across runs, resumes and machines, and
never the same text on both sides.
"""

from __future__ import annotations

import dataclasses
import hashlib

from redheart.data.sources import SourceData


def _held_out(text: str, fraction: float) -> bool:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


def split_sources(sources: list[SourceData],
                  eval_fraction: float) -> tuple[list[SourceData], list[SourceData]]:
    """(train, evaluation): dev sources, plus held-out shares of train sources of a kind
    that has no dev source."""
    train = [s for s in sources if s.source.split == "train"]
    evaluation = [s for s in sources if s.source.split == "dev"]
    kinds_with_dev = {s.source.kind for s in evaluation}
    if eval_fraction <= 0:
        return train, evaluation
    kept = []
    for data in train:
        if data.source.kind in kinds_with_dev:
            kept.append(data)
            continue
        keep = dataclasses.replace(
            data, examples=[e for e in data.examples if not _held_out(e.text, eval_fraction)],
            pairs=[p for p in data.pairs if not _held_out(p.first + p.second, eval_fraction)])
        out = dataclasses.replace(
            data, examples=[e for e in data.examples if _held_out(e.text, eval_fraction)],
            pairs=[p for p in data.pairs if _held_out(p.first + p.second, eval_fraction)])
        kept.append(keep)
        if out.examples or out.pairs:
            evaluation.append(out)
    return kept, evaluation
