"""`redheart prepare`: read sources, derive targets, fill the encoder cache."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from redheart.config import Config
from redheart.data.bad_rows import DataError
from redheart.data.encode import EncoderCache
from redheart.data.encoder import TextEncoder, resolve_encoder_dir
from redheart.data.prepared import load_sources
from redheart.data.sources import SourceData


@dataclass
class PrepareReport:
    sources: list[SourceData]
    encoded: int
    """Texts encoded by this call (0 when everything was cached)."""
    cached: int
    """Texts in the cache afterwards."""
    cache_dir: Path | None
    """None when the encoder is trained (nothing is cached)."""


def all_texts(sources: list[SourceData]) -> list[str]:
    texts = []
    for data in sources:
        texts += [e.text for e in data.examples]
        for pair in data.pairs:
            texts += [pair.first, pair.second]
    return texts


def check_sources(config: Config) -> None:
    if not config.data.sources:
        raise DataError(f"{config.source}: [data] has no sources; add [[data.sources]] entries "
                        f"(kind, path), e.g. kind = \"jsonl\", path = \"sample:sample.jsonl\"")


def prepare(config: Config, base_dir: Path, skip_bad_rows: bool = False,
            on_progress: Callable[[int, int], None] | None = None,
            verify: bool = True) -> PrepareReport:
    """Everything a run needs from the data, computed once and cached."""
    return encode_sources(config, read_sources(config, base_dir, skip_bad_rows), on_progress,
                          verify)


def read_sources(config: Config, base_dir: Path, skip_bad_rows: bool = False) -> list[SourceData]:
    """Sources with derived targets (from the example store when already prepared).

    The encoder directory is checked here too, so every input error is
    reported before any work starts.
    """
    check_sources(config)
    resolve_encoder_dir(config.data.encoder)
    return load_sources(config.data.sources, base_dir, config.data.cache_dir, skip_bad_rows)


def encode_sources(config: Config, sources: list[SourceData],
                   on_progress: Callable[[int, int], None] | None = None,
                   verify: bool = True) -> PrepareReport:
    """Fill the encoder cache with every text of `sources` not in it yet.

    With a trainable encoder there is nothing to cache: only the model's
    input width is checked against the encoder's.
    """
    if config.data.encoder_trainable:
        check_input_dim(config, encoder_hidden_size(config.data.encoder))
        return PrepareReport(sources, 0, 0, None)
    cache = EncoderCache(config.data.cache_dir, config.data.encoder, config.data.max_tokens,
                         verify_checksums=verify)
    texts = all_texts(sources)
    encoder = None
    if cache.missing(texts):
        encoder = TextEncoder(config.data.encoder, config.data.max_tokens)
        check_input_dim(config, encoder.hidden_size)
    elif cache.hidden is not None:
        check_input_dim(config, cache.hidden)
    encoded = cache.fill(texts, config.data.encode_batch, encoder, on_progress)
    return PrepareReport(sources, encoded, len(cache), cache.dir)


def encoder_hidden_size(name: str) -> int:
    config = json.loads((resolve_encoder_dir(name) / "config.json").read_text())
    return int(config["hidden_size"])


def check_input_dim(config: Config, hidden: int) -> None:
    if config.model.input_dim != hidden:
        raise DataError(f"{config.source}: [model] input_dim = {config.model.input_dim} but the "
                        f"encoder '{config.data.encoder}' gives {hidden}-d states; set "
                        f"[model] input_dim = {hidden}")
