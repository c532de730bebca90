"""Training, evaluation (dev) and test sources of a profile.

Sources marked `split = "dev"` are evaluation data: they pick the `best`
checkpoint and are what `redheart validate` reports on by default. For a
training source whose kind has no dev source, `[data] eval_fraction` of its
rows is held out for dev, chosen by a hash of the text: stable across runs,
resumes and machines, and never the same text on both sides.

Sources marked `split = "test"` are held out from everything a run does:
they are never trained on and never used to pick `best`. Only `splits`
returns them, so that `redheart validate --split test` can report on data no
choice was ever made on; the trainer gets `train` and `dev` only (through
`redheart.data.training_data`, or `split_sources` where a script or a test
builds a trainer by hand).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

from redheart.data.sources import SourceData

EVAL_SPLITS = ("dev", "test")
"""The splits `redheart validate --split` reports on."""


@dataclass
class Splits:
    """A profile's sources by role; `test` never reaches a trainer."""

    train: list[SourceData] = field(default_factory=list)
    dev: list[SourceData] = field(default_factory=list)
    test: list[SourceData] = field(default_factory=list)


def _held_out(text: str, fraction: float) -> bool:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


def splits(sources: list[SourceData], eval_fraction: float) -> Splits:
    """Train, dev (dev sources plus held-out shares of train sources of a kind that has no
    dev source) and test sources."""
    train = [s for s in sources if s.source.split == "train"]
    dev = [s for s in sources if s.source.split == "dev"]
    test = [s for s in sources if s.source.split == "test"]
    kinds_with_dev = {s.source.kind for s in dev}
    if eval_fraction <= 0:
        return Splits(train, dev, test)
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
            dev.append(out)
    return Splits(kept, dev, test)


def split_sources(sources: list[SourceData],
                  eval_fraction: float) -> tuple[list[SourceData], list[SourceData]]:
    """(train, evaluation) for a trainer: test sources are in neither."""
    parts = splits(sources, eval_fraction)
    return parts.train, parts.dev
