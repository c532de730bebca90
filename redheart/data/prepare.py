"""`redheart prepare`: read sources, derive targets, fill the encoder cache."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redheart.config import Config, TokenBudget, token_budget
from redheart.data.bad_rows import DataError
from redheart.data.encode import EncoderCache
from redheart.data.encoder import TextEncoder, resolve_encoder_dir
from redheart.data.prepared import load_sources
from redheart.data.sources import SourceData, resolve_path
from redheart.profile_text import key_location


@dataclass
class CacheFill:
    """One encoder cache (one token budget) after `encode_sources`."""

    dir: Path
    budget: TokenBudget
    encoded: int
    """Texts encoded into it by this call."""
    cached: int
    """Texts in it afterwards."""
    seconds: float = 0.0
    """Time this call spent encoding into it."""
    size: int = 0
    """Bytes of its shards afterwards (states and indexes): what it takes on disk."""


@dataclass
class PrepareReport:
    sources: list[SourceData]
    caches: list[CacheFill] = field(default_factory=list)
    """One per distinct token budget of the sources; empty when the encoder is trained
    (nothing is cached)."""

    @property
    def encoded(self) -> int:
        """Texts encoded by this call (0 when everything was cached)."""
        return sum(c.encoded for c in self.caches)

    @property
    def cached(self) -> int:
        """Texts in the caches afterwards."""
        return sum(c.cached for c in self.caches)


def texts_by_budget(config: Config,
                    sources: list[SourceData]) -> dict[TokenBudget, list[str]]:
    """The texts to encode per token budget, in source order."""
    groups: dict[TokenBudget, list[str]] = {}
    for data in sources:
        groups.setdefault(token_budget(config.data, data.source), []).extend(data.texts())
    return groups


def check_sources(config: Config, base_dir: Path) -> None:
    """Sources exist, each file is there and each budget fits the encoder, named by its
    profile line when not."""
    if not config.data.sources:
        raise DataError(f"{config.source}: [data] has no sources; add [[data.sources]] entries "
                        f"(kind, path), e.g. kind = \"jsonl\", path = \"sample:sample.jsonl\"")
    for index, source in enumerate(config.data.sources):
        try:
            resolve_path(source, base_dir)
        except DataError as exc:
            where = key_location(config.source, ("data", "sources"), index, "path")
            raise DataError(f"{where}: {exc}") from None
    check_token_budgets(config)


def encoder_token_limit(name: str) -> int | None:
    """The most tokens the encoder reads: its position table, or its tokenizer's
    model_max_length when smaller (RoBERTa's 514 positions hold 512); None if neither says."""
    path = resolve_encoder_dir(name)
    limits = []
    for file, key in (("config.json", "max_position_embeddings"),
                      ("tokenizer_config.json", "model_max_length")):
        try:
            value = json.loads((path / file).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1_000_000:
            limits.append(value)
    return min(limits) if limits else None


def check_token_budgets(config: Config) -> None:
    """Every source's max_tokens fits the encoder, named by its profile line otherwise.

    A longer budget encoded every text up to the first one past the encoder's
    positions, then stopped on a tensor-shape traceback; `data stats` reported
    a cut at a length no text is read to.
    """
    limit = encoder_token_limit(config.data.encoder)
    if limit is None:
        return
    for index, source in enumerate(config.data.sources):
        budget = token_budget(config.data, source)
        if budget.max_tokens <= limit:
            continue
        if source.max_tokens:
            where = key_location(config.source, ("data", "sources"), index, "max_tokens")
            key = "[[data.sources]] max_tokens"
        else:
            where = key_location(config.source, ("data",), None, "max_tokens")
            key = "[data] max_tokens"
        raise DataError(f"{where}: {key} = {budget.max_tokens}: the encoder "
                        f"'{config.data.encoder}' reads at most {limit} tokens; set "
                        f"max_tokens to {limit} or less")


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
    check_sources(config, base_dir)
    resolve_encoder_dir(config.data.encoder)
    return load_sources(config.data.sources, base_dir, config.data.cache_dir,
                        skip_bad_rows or config.data.skip_bad_rows)


def encoding_device(config: Config) -> str:
    """Where the frozen encoder fills a cache: the GPU when one is visible and the profile
    may train there ([train] device auto or cuda), else the CPU.

    The states are the same either way (fp32, stored as fp16); a GPU encodes a
    corpus in seconds where a few CPU cores take minutes, and a cache filled on
    a CPU-only machine (`redheart prepare` before a GPU run) stays usable.
    """
    import torch

    wanted = config.train.device
    return "cuda" if wanted != "cpu" and torch.cuda.is_available() else "cpu"


def encode_sources(config: Config, sources: list[SourceData],
                   on_progress: Callable[[int, int], None] | None = None,
                   verify: bool = True, device: str | None = None) -> PrepareReport:
    """Fill each source's encoder cache (one per token budget) with its texts not cached yet.

    One encoder is loaded, only if something is missing, and fills every
    cache; progress counts the missing texts of all caches together. With a
    trainable encoder there is nothing to cache: only the model's input width
    is checked against the encoder's. `device` overrides `encoding_device`.
    """
    if config.data.encoder_trainable:
        check_input_dim(config, encoder_hidden_size(config.data.encoder))
        return PrepareReport(sources)
    caches = [(EncoderCache(config.data.cache_dir, config.data.encoder, budget.max_tokens,
                            verify, budget.truncation), budget, texts)
              for budget, texts in texts_by_budget(config, sources).items()]
    todo = sum(len(cache.missing(texts)) for cache, _, texts in caches)
    encoder = None
    if todo:
        encoder = TextEncoder(config.data.encoder, config.data.max_tokens,
                              device or encoding_device(config))
        check_input_dim(config, encoder.hidden_size)

    def progress(done: int, _total: int) -> None:     # a total over every cache
        if on_progress is not None:
            on_progress(done, todo)
    report = PrepareReport(sources)
    for cache, budget, texts in caches:
        if encoder is None and cache.hidden is not None:
            check_input_dim(config, cache.hidden)
        started = time.monotonic()
        encoded = cache.fill(texts, config.data.encode_batch, encoder, progress)
        report.caches.append(CacheFill(cache.dir, budget, encoded, len(cache),
                                       time.monotonic() - started, cache_size(cache.dir)))
    return report


def cache_size(folder: Path) -> int:
    """Bytes of a cache folder's shards and indexes (0 before its first shard)."""
    return sum(p.stat().st_size for p in folder.glob("shard-*") if p.is_file())


def encoder_hidden_size(name: str) -> int:
    config = json.loads((resolve_encoder_dir(name) / "config.json").read_text())
    return int(config["hidden_size"])


def check_input_dim(config: Config, hidden: int) -> None:
    if config.model.input_dim != hidden:
        raise DataError(f"{config.source}: [model] input_dim = {config.model.input_dim} but the "
                        f"encoder '{config.data.encoder}' gives {hidden}-d states; set "
                        f"[model] input_dim = {hidden}")
