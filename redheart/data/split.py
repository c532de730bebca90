"""Training and evaluation sources of a profile.

Sources marked `split = "dev"` are evaluation data. When a profile has none
and `[data] eval_fraction` is set, that share of each training source is
held out, chosen by a hash of the text: stable across runs, resumes and
machines, and never the same text on both sides.
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
    train = [s for s in sources if s.source.split == "train"]
    evaluation = [s for s in sources if s.source.split == "dev"]
    if evaluation or eval_fraction <= 0:
        return train, evaluation
    kept, held = [], []
    for data in train:
        if data.pairs:  # dilemma pairs train Bradley-Terry; they have no loss to rank runs by
            kept.append(data)
            continue
        keep = [e for e in data.examples if not _held_out(e.text, eval_fraction)]
        out = [e for e in data.examples if _held_out(e.text, eval_fraction)]
        kept.append(dataclasses.replace(data, examples=keep))
        if out:
            held.append(dataclasses.replace(data, examples=out))
    return kept, held
