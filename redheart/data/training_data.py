"""A profile's data, ready for batching: read, encoded, split, and featurized.

`redheart run`, `redheart validate` and `redheart grow --verify` all start
the same way; this is that start, written once. What each does with the
result differs: the trainer takes `train` and `dev`, validate scores `dev`
or `test` against baselines fitted on `train`, grow checks a few batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from redheart.config import Config
from redheart.data.encode import SourceFeaturizers
from redheart.data.prepare import encode_sources, read_sources
from redheart.data.sources import SourceData
from redheart.data.split import splits


@dataclass(frozen=True)
class TrainingData:
    """The sources by role (see `redheart.data.split`) and what turns their rows into
    model inputs."""

    train: list[SourceData]
    dev: list[SourceData]
    """Evaluation data: dev sources and the held-out share of train sources."""
    test: list[SourceData]
    """Held out from everything a run does; only `validate --split test` reads it."""
    featurizer: SourceFeaturizers
    """Each source's batches with its own token budget."""
    skipped: tuple[str, ...] = ()
    """`FILE: skipped N bad rows: ...` for each source that lost rows to
    `[data] skip_bad_rows`: a run reports them, since the profile asked not to stop."""


def training_data(config: Config, base_dir: Path,
                  on_progress: Callable[[int, int], None] | None = None) -> TrainingData:
    """Read the sources (paths relative to `base_dir`), fill their encoder caches
    (`on_progress` sees texts encoded of the total missing), then split them.

    Every input error (a missing file, a bad row, an unknown encoder) is
    raised by the read, before the minutes the encoding can take.
    """
    sources = read_sources(config, base_dir)
    encode_sources(config, sources, on_progress)
    parts = splits(sources, config.data.eval_fraction)
    skipped = tuple(f"{data.path}: {data.bad.summary()}" for data in sources if data.bad.count)
    return TrainingData(parts.train, parts.dev, parts.test,
                        SourceFeaturizers(config, read=sources), skipped)
